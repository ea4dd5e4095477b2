using Gateway.Dispatch;
using Microsoft.Extensions.Options;

namespace Gateway.Configuration;

/// <summary>Runs the dispatch core's own checks at start and names the <c>Gateway:Dispatch</c> setting that failed.</summary>
public sealed class DispatcherOptionsValidator : IValidateOptions<DispatcherOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DispatcherOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException e)
        {
            // ArgumentException.Message ends with " (Parameter '...')": the setting is named in front instead.
            var message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
            return ValidateOptionsResult.Fail($"Gateway:Dispatch:{e.ParamName}: {message}");
        }
    }
}

using Microsoft.Extensions.Options;

namespace Gateway.Configuration;

/// <summary>Source-generated validator of the data-annotation ranges on <see cref="GatewayOptions"/>.</summary>
[OptionsValidator]
public sealed partial class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
}

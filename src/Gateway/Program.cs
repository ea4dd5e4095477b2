using Gateway;
using Gateway.Cli;

// `gateway token`, `gateway apikey`, `gateway keygen` and `gateway help` are commands; anything else runs the server.
if (args.Length > 0 && DevCommands.TryRun(args, Console.Out, Console.Error, out var exitCode))
{
    return exitCode;
}

try
{
    await GatewayApp.Build(args).RunAsync().ConfigureAwait(false);
    return 0;
}
catch (Microsoft.Extensions.Options.OptionsValidationException e)
{
    // Configuration errors are the operator's to fix: print them plainly, without a stack trace.
    await Console.Error.WriteLineAsync("The gateway refuses to start; invalid configuration:").ConfigureAwait(false);
    foreach (var failure in e.Failures)
    {
        await Console.Error.WriteLineAsync("  - " + failure).ConfigureAwait(false);
    }

    return 2;
}

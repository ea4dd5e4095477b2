namespace WorkflowWatcher;

/// <summary>The command line of the watcher.</summary>
internal sealed record WatcherArguments(IReadOnlyList<Uri> Urls, string Token, string Workflow, bool Notifications, bool Broadcasts)
{
    public const string Usage = "usage: workflow-watcher --url ws://localhost:5080/ws [--url tcp://localhost:5081] --token <jwt> --workflow <id> [--notifications] [--broadcasts]\n"
        + "       --notifications: also print (and ack) the user's notifications; --broadcasts: also print broadcasts\n"
        + "       (the token can also come from the ARCHMESH_TOKEN environment variable)";

    public static bool TryParse(string[] args, out WatcherArguments arguments, out string problem)
    {
        var urls = new List<Uri>();
        string? token = Environment.GetEnvironmentVariable("ARCHMESH_TOKEN");
        string? workflow = null;
        var notifications = false;
        var broadcasts = false;
        arguments = null!;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--url" when value is not null:
                    if (!Uri.TryCreate(value, UriKind.Absolute, out var url) || url.Scheme is not ("ws" or "wss" or "tcp"))
                    {
                        problem = $"--url {value}: expected ws://, wss:// or tcp://";
                        return false;
                    }

                    urls.Add(url);
                    i++;
                    break;
                case "--token" when value is not null:
                    token = value;
                    i++;
                    break;
                case "--workflow" when value is not null:
                    workflow = value;
                    i++;
                    break;
                case "--notifications":
                    notifications = true;
                    break;
                case "--broadcasts":
                    broadcasts = true;
                    break;
                default:
                    problem = $"unexpected argument '{args[i]}'";
                    return false;
            }
        }

        problem = urls.Count == 0 ? "--url is required"
            : string.IsNullOrEmpty(token) ? "--token is required"
            : string.IsNullOrEmpty(workflow) ? "--workflow is required"
            : string.Empty;
        if (problem.Length > 0)
        {
            return false;
        }

        arguments = new WatcherArguments(urls, token!, workflow!, notifications, broadcasts);
        return true;
    }
}

using Gateway.Client;
using WorkflowWatcher;

// Watches one workflow: prints its retained state at once, then every update, across reconnects; with
// --notifications and --broadcasts also the user's notifications (acked once printed) and broadcasts.
//   dotnet run -- --url ws://localhost:5080/ws --token "$TOKEN" --workflow 7f3a --notifications --broadcasts
// Several --url (ws://, wss://, tcp://) are tried in order and used for failover.
if (!WatcherArguments.TryParse(args, out var arguments, out var problem))
{
    await Console.Error.WriteLineAsync(problem);
    await Console.Error.WriteLineAsync(WatcherArguments.Usage);
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Let the client close cleanly instead of killing the process.
    e.Cancel = true;
    stop.Cancel();
};

var options = new GatewayClientOptions
{
    Endpoints = arguments.Urls,
    Token = arguments.Token,
    ClientName = "workflow-watcher/1.0",
    ReceiveNotifications = arguments.Notifications,
    ReceiveBroadcasts = arguments.Broadcasts,
};

try
{
    await using var client = await GatewayClient.ConnectAsync(options, stop.Token);
    client.StateChanged += (_, e) => Console.Error.WriteLine($"[{DateTimeOffset.Now:HH:mm:ss}] {e.Previous} -> {e.Current}: {e.Reason}{(e.Error is null ? string.Empty : " (" + e.Error.Message + ")")}");
    Console.Error.WriteLine($"connected to {client.Connection!.Endpoint} (node {client.Connection.NodeId}) as '{client.Connection.UserId}'");

    var topic = "workflow:" + arguments.Workflow;
    await using var subscription = await client.SubscribeAsync(topic, stop.Token);
    subscription.Resubscribed += (_, e) => Console.Error.WriteLine($"resubscribed to {e.Topic}: {e.Outcome} (from {e.RequestedFrom}, now {e.Current})");
    Console.Error.WriteLine($"watching {topic}{(arguments.Notifications ? ", notifications" : string.Empty)}{(arguments.Broadcasts ? ", broadcasts" : string.Empty)}; Ctrl+C to stop");

    var loops = new List<Task> { WatchWorkflowAsync(subscription, stop.Token) };
    if (arguments.Notifications)
    {
        loops.Add(PrintNotificationsAsync(client, stop.Token));
    }

    if (arguments.Broadcasts)
    {
        loops.Add(PrintBroadcastsAsync(client, stop.Token));
    }

    await Task.WhenAll(loops);
    return 0;
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    return 0;
}
catch (GatewayException e)
{
    await Console.Error.WriteLineAsync($"gateway error {e.ErrorName}{(e.IsRetryable ? " (retryable)" : string.Empty)}: {e.ServerText}");
    return 1;
}

static async Task WatchWorkflowAsync(GatewaySubscription subscription, CancellationToken cancel)
{
    await foreach (var message in subscription.WithCancellation(cancel))
    {
        var label = message.Kind switch
        {
            GatewayMessageKind.Retained => "current state",
            GatewayMessageKind.Replayed => "missed update",
            GatewayMessageKind.RecoveryFailed => "history lost",
            _ => "update",
        };

        if (message.Kind == GatewayMessageKind.RecoveryFailed)
        {
            // A real application would refetch the workflow from its source of truth here.
            Console.WriteLine($"[{label}] updates may have been missed while disconnected; refetch the workflow state");
            continue;
        }

        var gap = message.MissedBefore > 0 ? $" ({message.MissedBefore} skipped before)" : string.Empty;
        Console.WriteLine($"[{label}] #{message.Offset} {message.Timestamp:HH:mm:ss.fff} {message.Priority}: {message.GetString()}{gap}");
    }
}

static async Task PrintNotificationsAsync(GatewayClient client, CancellationToken cancel)
{
    await foreach (var message in client.Notifications.WithCancellation(cancel))
    {
        Console.WriteLine($"[notification] #{message.Offset} {message.Timestamp:HH:mm:ss.fff} {message.Priority}: {message.GetString()}{(message.Kind == GatewayMessageKind.Replayed ? " (redelivered: not acked before)" : string.Empty)}");
        // Acked once shown: the gateway stops redelivering it on the next connect.
        await client.AckAsync(message, cancel);
    }
}

static async Task PrintBroadcastsAsync(GatewayClient client, CancellationToken cancel)
{
    await foreach (var message in client.Broadcasts.WithCancellation(cancel))
    {
        Console.WriteLine($"[broadcast] #{message.Offset} {message.Timestamp:HH:mm:ss.fff} {message.Priority}: {message.GetString()}");
    }
}

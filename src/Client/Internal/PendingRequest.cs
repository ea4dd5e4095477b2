using Gateway.Protocol.Frames;

namespace Gateway.Client.Internal;

/// <summary>A request waiting for the server's answer (matched by correlation id).</summary>
internal sealed class PendingRequest
{
    public PendingRequest(FrameKind request, ClientConnection connection, GatewaySubscription? subscription = null)
    {
        Request = request;
        Connection = connection;
        Subscription = subscription;
    }

    public FrameKind Request { get; }

    public ClientConnection Connection { get; }

    public GatewaySubscription? Subscription { get; }

    public TaskCompletionSource<InboundFrame> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

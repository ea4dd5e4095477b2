using System.IO.Pipelines;

namespace Gateway.Client.Transport;

/// <summary>One open, version-negotiated byte channel to a gateway node (WebSocket or raw TCP).</summary>
internal interface IClientTransport : IAsyncDisposable
{
    /// <summary>Inbound bytes (whole and partial frames); completes when the peer closes.</summary>
    PipeReader Input { get; }

    /// <summary>The endpoint this transport is connected to.</summary>
    Uri Endpoint { get; }

    /// <summary>What the peer said when it closed (WebSocket close status), when it said anything.</summary>
    TransportClose? Close { get; }

    /// <summary>Sends whole frames; over WebSocket as one binary message.</summary>
    ValueTask SendAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken);

    /// <summary>Starts a graceful close (best effort) without waiting for the peer.</summary>
    Task CloseAsync(CancellationToken cancellationToken);

    /// <summary>Tears the connection down at once; pending reads and writes fail.</summary>
    void Abort();
}

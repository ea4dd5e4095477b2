using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Threading.RateLimiting;
using Gateway.Auth;
using Gateway.Dispatch;
using Gateway.Hosting;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Protocol.Topics;

namespace Gateway.Transport;

// ClientConnection, the write side: the single write loop that drains the outbound queue, owed acks at close, per-batch metrics.
public abstract partial class ClientConnection
{
    private async Task WriteLoopAsync()
    {
        await _wake.Task.ConfigureAwait(false);
        var batch = new List<FrameBuffer>();
        var ok = true;
        try
        {
            var session = Session;
            if (session is not null)
            {
                session.Outbound.DrainTo(batch);
                ok = await SendAsync(batch).ConfigureAwait(false);
                while (ok && !IsClosing)
                {
                    bool more;
                    try
                    {
                        more = await session.Outbound.WaitToReadAsync(_stopWaiting.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }

                    if (!more)
                    {
                        var reason = session.Outbound.CloseReason;
                        RequestClose(reason != ErrorCode.None
                            ? CloseRequest.Fatal(reason, "The connection could not keep up with its messages; reconnect and recover.")
                            : CloseRequest.Fatal(ErrorCode.ServerShuttingDown, "The node is shutting down; reconnect."));
                        break;
                    }

                    session.Outbound.DrainTo(batch);
                    ok = await SendAsync(batch).ConfigureAwait(false);
                }
            }

            // The loop may have been resumed inline on a dispatch worker (DispatcherOptions.WakeInline): leave
            // that thread before the close sequence (logging, transport close, request teardown), which must
            // not run on, or wait on, a worker.
            await Task.Yield();
            var close = _close;
            if (!ok || close.TransportFailed)
            {
                return;
            }

            // Answers owed first: PublishAcks of publishes the dispatcher has not processed yet (bounded wait).
            var owing = Session;
            if (owing is not null && Volatile.Read(ref _acksOwed) > 0 && !await FlushOwedAcksAsync(owing, batch).ConfigureAwait(false))
            {
                return;
            }

            // Flush what was queued before the close (e.g. everything before a drain's GoAway), then the error.
            Session?.Outbound.DrainTo(batch);
            var report = close.Error != ErrorCode.None ? close.Error : HasCloseCodes ? ErrorCode.None : close.StreamError;
            if (report != ErrorCode.None)
            {
                var error = _services.Pool.Rent(ProtocolLimits.HeaderSize + 8 + ProtocolLimits.MaxTextBytes);
                FrameWriter.WriteError(error, report, close.CorrelationId, close.Text ?? ErrorCatalog.Get(report).Description);
                batch.Add(error);
            }

            if (batch.Count > 0 && !await SendAsync(batch).ConfigureAwait(false))
            {
                return;
            }

            try
            {
                await CloseTransportAsync(close).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.WebSockets.WebSocketException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // The peer is gone already; nothing to tell it.
            }
        }
        finally
        {
            foreach (var frame in batch)
            {
                frame.Release();
            }
        }
    }

    /// <summary>
    /// Waits (at most <see cref="AckFlushTimeout"/>) until every publish this connection had accepted has its
    /// PublishAck written, sending whatever the queue holds meanwhile (acks, answers, messages, in order).
    /// </summary>
    /// <returns>False when the transport failed.</returns>
    private async ValueTask<bool> FlushOwedAcksAsync(Session session, List<FrameBuffer> batch)
    {
        using var deadline = new CancellationTokenSource(AckFlushTimeout);
        while (true)
        {
            session.Outbound.DrainTo(batch);
            if (!await SendAsync(batch).ConfigureAwait(false))
            {
                return false;
            }

            if (Volatile.Read(ref _acksOwed) <= 0)
            {
                return true;
            }

            try
            {
                if (!await session.Outbound.WaitToReadAsync(deadline.Token).ConfigureAwait(false))
                {
                    return true; // completed and empty (slow consumer): those acks are lost, the client treats them as unknown
                }
            }
            catch (OperationCanceledException)
            {
                GatewayLog.AcksUnsentAtClose(_services.Logger, ConnectionId, _services.NodeId, Volatile.Read(ref _acksOwed));
                return true;
            }
        }
    }

    private async ValueTask<bool> SendAsync(List<FrameBuffer> batch)
    {
        if (batch.Count == 0)
        {
            return true;
        }

        try
        {
            var total = CountOut(batch);
            await WriteAsync(batch, total).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.WebSockets.WebSocketException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException or Microsoft.AspNetCore.Connections.ConnectionResetException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            RequestClose(CloseRequest.Reset);
            return false;
        }
        finally
        {
            foreach (var frame in batch)
            {
                frame.Release();
            }

            batch.Clear();
        }
    }

    /// <summary>Metrics of a batch: frames and bytes by kind (one counter add per kind) and one latency sample.</summary>
    private int CountOut(List<FrameBuffer> batch)
    {
        Span<int> frames = stackalloc int[(int)FrameKind.Refreshed + 1];
        Span<long> bytes = stackalloc long[(int)FrameKind.Refreshed + 1];
        var total = 0;
        long oldestTimestamp = 0;
        foreach (var buffer in batch)
        {
            var span = buffer.Span;
            total += span.Length;
            while (span.Length >= ProtocolLimits.HeaderSize)
            {
                var size = ProtocolLimits.HeaderSize + (int)BinaryPrimitives.ReadUInt32BigEndian(span);
                var kind = span[4];
                if (kind < frames.Length)
                {
                    frames[kind]++;
                    bytes[kind] += size;
                }

                if (kind == (byte)FrameKind.Message && oldestTimestamp == 0 && span[5] == 0 && span.Length >= MessageTimestampOffset + 8)
                {
                    oldestTimestamp = BinaryPrimitives.ReadInt64BigEndian(span[MessageTimestampOffset..]);
                }

                span = span[Math.Min(size, span.Length)..];
            }
        }

        if (frames[(int)FrameKind.PublishAck] != 0)
        {
            Interlocked.Add(ref _acksOwed, -frames[(int)FrameKind.PublishAck]);
        }

        for (var i = 0; i < frames.Length; i++)
        {
            if (frames[i] != 0)
            {
                _services.Metrics.FramesOut((FrameKind)i, frames[i], bytes[i]);
            }
        }

        if (oldestTimestamp > 0)
        {
            var latency = (_services.Time.GetUtcNow().ToUnixTimeMilliseconds() - oldestTimestamp) / 1000.0;
            _services.Metrics.DeliveryLatency(Math.Max(0, latency));
        }

        return total;
    }
}

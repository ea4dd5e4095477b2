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
    // Per-kind counts of the batch just drained, filled by the queue (it classified every frame when it was queued) and
    // reported before the next await: one per thread, so an idle connection holds none.
    [ThreadStatic]
    private static OutboundBatchCounts? _batchCounts;

    // When the write in progress began (Environment.TickCount64), 0 when none: the sweeper's stalled-writer deadline.
    private long _writeStartedMs;

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
                DrainBatch(session, batch);
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

                    DrainBatch(session, batch);
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
            var closing = Session;
            if (closing is not null)
            {
                // In bounded writes; only what is queued now (a busy topic must not keep the close waiting).
                var left = closing.Outbound.Count;
                left -= DrainBatch(closing, batch);
                while (left > 0 && closing.Outbound.Count > 0)
                {
                    if (!await SendAsync(batch).ConfigureAwait(false))
                    {
                        return;
                    }

                    left -= DrainBatch(closing, batch);
                }
            }

            var report = close.Error != ErrorCode.None ? close.Error : HasCloseCodes ? ErrorCode.None : close.StreamError;
            if (report != ErrorCode.None)
            {
                var error = _services.Pool.Rent(ProtocolLimits.HeaderSize + 8 + ProtocolLimits.MaxTextBytes);
                FrameWriter.WriteError(error, report, close.CorrelationId, close.Text ?? ErrorCatalog.Get(report).Description);
                batch.Add(error);
                _services.Metrics.FramesOut(FrameKind.Error, 1, error.Length);
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
            DrainBatch(session, batch);
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
            var total = 0;
            foreach (var frame in batch)
            {
                total += frame.Length;
            }

            Volatile.Write(ref _writeStartedMs, Math.Max(1, Environment.TickCount64));
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
            Volatile.Write(ref _writeStartedMs, 0);
            foreach (var frame in batch)
            {
                frame.Release();
            }

            batch.Clear();
        }
    }

    /// <summary>
    /// Takes the next batch from the queue (at most <see cref="Configuration.ConnectionOptions.MaxWriteBytes"/>, most
    /// urgent first) and reports its metrics: frames and bytes by kind (one counter add per kind, from the counts the
    /// queue kept, no header is re-read), PublishAcks owed, and one end-to-end latency sample.
    /// </summary>
    /// <returns>The number of frames taken.</returns>
    private int DrainBatch(Session session, List<FrameBuffer> batch)
    {
        var counts = _batchCounts ??= new OutboundBatchCounts();
        var taken = session.Outbound.DrainTo(batch, _services.Options.Connection.MaxWriteBytes, counts);
        try
        {
            var acks = counts.Frames(FrameKind.PublishAck);
            if (acks != 0)
            {
                Interlocked.Add(ref _acksOwed, -acks);
            }

            for (var kind = FrameKind.Connect; kind <= FrameKind.Refreshed; kind++)
            {
                var frames = counts.Frames(kind);
                if (frames != 0)
                {
                    _services.Metrics.FramesOut(kind, frames, counts.Bytes(kind));
                }
            }

            if (counts.OldestLiveMessage is { } oldest && oldest.Length >= MessageFrameLayout.TimestampAt + 8)
            {
                var sentAt = BinaryPrimitives.ReadInt64BigEndian(oldest.Span[MessageFrameLayout.TimestampAt..]);
                if (sentAt > 0)
                {
                    var latency = (_services.Time.GetUtcNow().ToUnixTimeMilliseconds() - sentAt) / 1000.0;
                    _services.Metrics.DeliveryLatency(Math.Max(0, latency));
                }
            }
        }
        finally
        {
            counts.Clear();
        }

        return taken;
    }
}

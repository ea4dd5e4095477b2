using System.Buffers;
using System.Globalization;
using Gateway.Hosting;
using Gateway.Protocol.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Gateway.Api;

/// <summary>
/// An HTTP API request body read whole into a pooled buffer, with the route's limit (<see cref="RequestBodyLimit"/>:
/// <c>Gateway:Http:MaxRequestBodyBytes</c> or <c>MaxMessageBodyBytes</c>) enforced here rather than by Kestrel's <c>MaxRequestBodySize</c>. When Kestrel's limit trips, the request
/// counts as rejected, and Kestrel then skips the drain it otherwise does after every request: it closes the
/// connection with the rest of the body unread, the kernel answers that close with a reset, and a client
/// that is still sending (most write the whole body before reading) never reads the 413. Here an oversized
/// body is answered 413 with <c>Connection: close</c>, then the rest of it is read and discarded, bounded by
/// <c>Gateway:Http:OversizedBodyDrainBytes</c> and <c>OversizedBodyDrainTimeout</c>, so the close is a
/// graceful one (docs/http-api.md, "Oversized bodies").
/// </summary>
internal sealed class RequestBody : IDisposable
{
    private const int InitialBuffer = 16 * 1024;

    private byte[] _buffer;
    private readonly int _length;

    private RequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
    }

    /// <summary>The body bytes (valid until <see cref="Dispose"/>).</summary>
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, _length);

    /// <summary>Reads the whole body, or returns the problem to answer (413 with a bounded drain, or 400).</summary>
    public static async Task<(RequestBody? Body, IResult? Problem)> ReadAsync(HttpContext context, PublishApiServices services)
    {
        var route = context.GetEndpoint()?.Metadata.GetMetadata<RequestBodyLimit>() ?? RequestBodyLimit.Messages;
        var limit = route.Bytes(services.Options.Http);
        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false })
        {
            // Our limit below replaces Kestrel's, whose 413 closes the connection over unread input.
            feature.MaxRequestBodySize = null;
        }

        var declared = context.Request.ContentLength;
        if (declared > limit)
        {
            // Refused before reading a byte. Kestrel sends no 100 Continue once the response has started, so a
            // client that waits for one (Expect: 100-continue) sends nothing and closes on the 413.
            return (null, new OversizedBodyResult(services, $"The request body declares {declared} bytes; at most {limit} ({route.Setting})."));
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(declared ?? InitialBuffer, limit));
        var length = 0;
        var reader = context.Request.BodyReader;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
                var chunk = read.Buffer;
                if (length + chunk.Length > limit)
                {
                    reader.AdvanceTo(chunk.End);
                    ArrayPool<byte>.Shared.Return(buffer);
                    return (null, new OversizedBodyResult(services, $"The request body exceeds {limit} bytes ({route.Setting})."));
                }

                if (length + chunk.Length > buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(buffer.Length * 2L, length + chunk.Length), limit));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                chunk.CopyTo(buffer.AsSpan(length));
                length += (int)chunk.Length;
                reader.AdvanceTo(chunk.End);
                if (read.IsCompleted)
                {
                    return (new RequestBody(buffer, length), null);
                }
            }
        }
        catch (BadHttpRequestException e)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return (null, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? ApiProblem.For(ErrorCode.PayloadTooLarge, $"The request body exceeds {limit} bytes ({route.Setting}).")
                : ApiProblem.For(ErrorCode.MalformedFrame, "The request body could not be read: " + e.Message));
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The 413 problem, sent with <c>Connection: close</c> and completed before draining, so a client that
    /// reads while it sends gets it at once; then the rest of the body is read and discarded (bounded).
    /// </summary>
    private sealed class OversizedBodyResult(PublishApiServices services, string detail) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            var problem = ApiOutcome.Fail(ErrorCode.PayloadTooLarge, detail).Error!;
            services.Refusals.Refused(context, problem.Status, problem.Error, problem.Detail);
            context.Response.Headers.Connection = "close";
            await ApiProblem.For(problem).ExecuteAsync(context).ConfigureAwait(false);
            await context.Response.CompleteAsync().ConfigureAwait(false);
            await DrainAsync(context).ConfigureAwait(false);
        }

        private async Task DrainAsync(HttpContext context)
        {
            var maxBytes = services.Options.Http.OversizedBodyDrainBytes;
            var timeout = services.Options.Http.OversizedBodyDrainTimeout;
            long drained = 0;
            string? stopped = null;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            deadline.CancelAfter(timeout);
            var reader = context.Request.BodyReader;
            try
            {
                while (stopped is null)
                {
                    if (drained > maxBytes)
                    {
                        stopped = string.Create(CultureInfo.InvariantCulture, $"over Gateway:Http:OversizedBodyDrainBytes ({maxBytes})");
                        break;
                    }

                    var read = await reader.ReadAsync(deadline.Token).ConfigureAwait(false);
                    drained += read.Buffer.Length;
                    reader.AdvanceTo(read.Buffer.End);
                    if (read.IsCompleted)
                    {
                        GatewayLog.OversizedBodyDrained(services.Logger, drained);
                        return;
                    }

                    if (read.IsCanceled)
                    {
                        stopped = "timed out";
                    }
                }
            }
            catch (OperationCanceledException)
            {
                stopped = context.RequestAborted.IsCancellationRequested ? "the client went away" : $"over Gateway:Http:OversizedBodyDrainTimeout ({timeout})";
            }
            catch (Exception e) when (e is BadHttpRequestException or IOException)
            {
                stopped = e.Message;
            }

            // Abort: otherwise Kestrel drains the rest itself after the request (5 s, with no byte bound now that
            // its MaxRequestBodySize is off). The close resets the connection over the unread input.
            GatewayLog.OversizedBodyDrainAbandoned(services.Logger, drained, stopped!);
            context.Abort();
        }
    }
}

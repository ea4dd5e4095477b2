using System.Net;
using Gateway.Hosting;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Transport;

/// <summary>
/// Runs before the TLS handshake on a <c>tcps</c> listener. A TLS client's first byte is a handshake record (0x16); a
/// plaintext client's is the hello's "A". The plaintext client gets one plaintext Error frame (<c>malformed_frame</c>,
/// "this port requires TLS") instead of a failed handshake it cannot explain, and the connection is closed. Nothing is
/// consumed: the TLS middleware reads the same bytes.
/// </summary>
internal static class TcpTlsGate
{
    /// <summary>First byte of a TLS record carrying a handshake message (the ClientHello).</summary>
    private const byte TlsHandshakeRecord = 0x16;

    /// <summary>Adds the gate to <paramref name="listen"/>; call before <c>UseHttps</c>.</summary>
    public static void Use(ListenOptions listen, TimeSpan firstByteTimeout)
    {
        var services = listen.ApplicationServices;
        var logger = services.GetRequiredService<ILogger<TcpConnectionHandler>>();
        var metrics = services.GetRequiredService<GatewayMetrics>();
        listen.Use(next => async context =>
        {
            var input = context.Transport.Input;
            byte first;
            try
            {
                using var deadline = new CancellationTokenSource(firstByteTimeout);
                var result = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
                if (result.Buffer.IsEmpty)
                {
                    input.AdvanceTo(result.Buffer.End);
                    return;
                }

                first = result.Buffer.FirstSpan[0];
                // Nothing consumed or examined: the next reader (TLS) gets the same bytes at once.
                input.AdvanceTo(result.Buffer.Start);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ConnectionResetException or ConnectionAbortedException)
            {
                // Silent or gone before the first byte: the handshake timeout's job, done here.
                return;
            }

            if (first == TlsHandshakeRecord)
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            const string Text = "This port requires TLS: connect with tcps:// (TLS first, then the hello 41 4D 53 48 00 01).";
            metrics.ConnectionRefused(ErrorCatalog.Get(ErrorCode.MalformedFrame).Name);
            metrics.ProtocolError(ErrorCode.MalformedFrame);
            GatewayLog.TcpRefused(logger, (context.RemoteEndPoint as IPEndPoint)?.Address, Text);
            try
            {
                FrameWriter.WriteError(context.Transport.Output, ErrorCode.MalformedFrame, 0, Text);
                await context.Transport.Output.FlushAsync().ConfigureAwait(false);
                await context.Transport.Output.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
            {
            }
        });
    }
}

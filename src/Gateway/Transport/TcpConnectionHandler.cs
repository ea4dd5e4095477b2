using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Gateway.Hosting;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Gateway.Transport;

/// <summary>
/// The raw TCP endpoint (Kestrel connection handler on its own port). The client first sends the
/// 6-byte hello <c>41 4D 53 48 00 01</c> ("AMSH" + u16 BE version); the server echoes it and the
/// protocol continues exactly as over WebSocket. A wrong magic or version, a drain or a connection
/// limit is answered with one Error frame, then the socket is closed.
/// </summary>
public sealed class TcpConnectionHandler(ConnectionServices services, GatewayLifetime lifetime, ILogger<TcpConnectionHandler> logger) : ConnectionHandler
{
    private static readonly byte[] Hello = ProtocolVersion.TcpHello.ToArray();

    /// <inheritdoc />
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        if (lifetime.IsDraining)
        {
            await RefuseAsync(connection, address, ErrorCode.ServerShuttingDown, "The node is draining; connect to another node.").ConfigureAwait(false);
            return;
        }

        if (services.Limiter.TryAcquire(address, out var perAddress) != ErrorCode.None)
        {
            await RefuseAsync(connection, address, ErrorCode.TooManyConnections, perAddress
                ? "Too many connections from this address."
                : "This node is at its connection limit; connect to another node.").ConfigureAwait(false);
            return;
        }

        try
        {
            var error = await ReadHelloAsync(connection.Transport.Input).ConfigureAwait(false);
            if (error is { } refusal)
            {
                if (refusal.Code != ErrorCode.None)
                {
                    await RefuseAsync(connection, address, refusal.Code, refusal.Text).ConfigureAwait(false);
                }

                return;
            }

            // The same path as the connection's own writes (the socket when exposed), or the hello could follow Connected.
            if (TcpConnection.SocketOf(connection) is { } socket)
            {
                await TcpConnection.SendAllAsync(socket, Hello).ConfigureAwait(false);
            }
            else
            {
                await connection.Transport.Output.WriteAsync(Hello).ConfigureAwait(false);
            }


            await new TcpConnection(services, connection, address).RunAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ConnectionResetException or ConnectionAbortedException or OperationCanceledException)
        {
            // Reset during the hello: nothing to clean up beyond the slot.
        }
        finally
        {
            services.Limiter.Release(address);
        }
    }

    private async Task<(ErrorCode Code, string Text)?> ReadHelloAsync(PipeReader input)
    {
        var timeout = services.Options.Connection.ConnectTimeout;
        using var deadline = new CancellationTokenSource(timeout);
        ReadResult result;
        try
        {
            while (true)
            {
                result = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
                if (result.Buffer.Length >= ProtocolVersion.TcpHelloSize || result.IsCompleted)
                {
                    break;
                }

                input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }
        }
        catch (OperationCanceledException)
        {
            return (ErrorCode.ConnectTimeout, $"No hello within {timeout.TotalSeconds:0.###} s.");
        }

        if (result.Buffer.Length < ProtocolVersion.TcpHelloSize)
        {
            input.AdvanceTo(result.Buffer.End);
            return (ErrorCode.None, "");
        }

        Span<byte> hello = stackalloc byte[ProtocolVersion.TcpHelloSize];
        result.Buffer.Slice(0, ProtocolVersion.TcpHelloSize).CopyTo(hello);
        input.AdvanceTo(result.Buffer.GetPosition(ProtocolVersion.TcpHelloSize));
        return ProtocolVersion.ValidateTcpHello(hello) switch
        {
            ErrorCode.None => null,
            ErrorCode.UnsupportedVersion => (ErrorCode.UnsupportedVersion, $"Protocol version {(hello[4] << 8) | hello[5]} is not supported; this server speaks {ProtocolVersion.Current} (hello 41 4D 53 48 00 01)."),
            var other => (other, "Not an ArchMesh hello: send 41 4D 53 48 00 01 (\"AMSH\" + u16 version) first."),
        };
    }

    private async Task RefuseAsync(ConnectionContext connection, IPAddress? address, ErrorCode code, string text)
    {
        services.Metrics.ConnectionRefused(ErrorCatalog.Get(code).Name);
        services.Metrics.ProtocolError(code);
        GatewayLog.TcpRefused(logger, address, text);
        try
        {
            FrameWriter.WriteError(connection.Transport.Output, code, 0, text);
            await connection.Transport.Output.FlushAsync().ConfigureAwait(false);
            await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
        {
        }
    }
}

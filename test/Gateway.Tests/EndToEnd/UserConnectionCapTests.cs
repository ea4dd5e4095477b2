using System.Net.WebSockets;
using Gateway.Dispatch;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// <c>Gateway:Limits:MaxConnectionsPerUser</c>: the connection past the cap is refused after authentication
/// with <c>user_connection_limit</c> (close 4010), other users are unaffected and a freed slot is reusable.
/// </summary>
public sealed class UserConnectionCapTests
{
    [Fact]
    public async Task Fourth_connection_of_a_user_is_refused_with_user_connection_limit_and_a_freed_slot_is_reusable()
    {
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:MaxConnectionsPerUser"] = "3",
        });
        var dispatcher = server.GetRequiredService<Dispatcher>();
        var token = GatewayServer.MintToken("carol");
        var (a, _) = await TestClient.ConnectAsync(server, token);
        var (b, _) = await TestClient.ConnectAsync(server, token, tcp: true);
        var (c, _) = await TestClient.ConnectAsync(server, token);
        await using var _b = b;
        await using var _c = c;

        // WebSocket: the Error frame, then the documented close code.
        var fourth = await TestClient.OpenWebSocketAsync(server);
        await using (fourth)
        {
            await fourth.SendAsync(w => FrameWriter.WriteConnect(w, ProtocolVersion.Current, token, "tests"));
            var (frames, status) = await fourth.ReadUntilClosedAsync();
            var error = Assert.Single(frames);
            Assert.Equal(FrameKind.Error, error.Kind);
            Assert.Equal(ErrorCode.UserConnectionLimit, error.ErrorCode);
            Assert.Equal((WebSocketCloseStatus)4010, status);
            Assert.Equal(4010, ErrorCatalog.Get(ErrorCode.UserConnectionLimit).CloseCode);
        }

        // TCP: the Error frame, then end of stream.
        var fourthTcp = await TestClient.OpenTcpAsync(server);
        await using (fourthTcp)
        {
            await fourthTcp.SendAsync(w => FrameWriter.WriteConnect(w, ProtocolVersion.Current, token, "tests"));
            var (frames, _) = await fourthTcp.ReadUntilClosedAsync();
            Assert.Equal(ErrorCode.UserConnectionLimit, Assert.Single(frames).ErrorCode);
        }

        // Refused before registration: the user still has exactly its three, and another user is unaffected.
        Assert.Equal(3, dispatcher.GetUserConnectionCount("carol"));
        var (other, otherConnected) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("dave"));
        await using var _other = other;
        Assert.Equal(FrameKind.Connected, otherConnected.Kind);

        // The three remaining connections still receive the user's notifications.
        Assert.Equal(ErrorCode.None, dispatcher.TryPublish("user:carol", Priority.Normal, "hello"u8));
        foreach (var live in new[] { a, b, c })
        {
            var message = await live.ReceiveUntilAsync(f => f.Kind == FrameKind.Message);
            Assert.Equal("user:carol", message.Topic);
        }

        // Closing one lets a new one in.
        await a.DisposeAsync();
        await InvalidInputTests.WaitUntilAsync(() => dispatcher.GetUserConnectionCount("carol") < 3);
        var (again, connected) = await TestClient.ConnectAsync(server, token);
        await using var _again = again;
        Assert.Equal(FrameKind.Connected, connected.Kind);
        Assert.Equal(3, dispatcher.GetUserConnectionCount("carol"));
    }
}

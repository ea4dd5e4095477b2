using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serilog.Core;
using Serilog.Events;

namespace Gateway.Tests.Operations;

/// <summary>Serilog pipeline of a real gateway: node id, connection scope, request log, no secrets.</summary>
public sealed class LoggingTests
{
    [Fact]
    public async Task Tokens_and_api_keys_never_reach_the_logs_including_the_request_log()
    {
        var sink = new CapturingSerilogSink();
        await using var server = await GatewayServer.StartAsync(configure: b => b.Services.AddSingleton<ILogEventSink>(sink));

        var marker = Guid.NewGuid().ToString("N");
        var badToken = "SENTINEL-BAD-TOKEN-" + marker;
        var wrongKeyToken = TokenMinter.MintWith("sentinel-" + marker);
        var goodToken = GatewayServer.MintToken("sentinel-user-" + marker[..8]);
        var badApiKey = "SENTINEL-API-KEY-" + marker;

        // A connect with a token that is not a JWT, one signed with the wrong key, and a good one.
        foreach (var token in new[] { badToken, wrongKeyToken })
        {
            await using var refused = await TestClient.OpenWebSocketAsync(server);
            await refused.SendAsync(w => FrameWriter.WriteConnect(w, ProtocolVersion.Current, token, "sentinel-client"));
            var (frames, _) = await refused.ReadUntilClosedAsync(TimeSpan.FromSeconds(30));
            Assert.Contains(frames, f => f.Kind == FrameKind.Error);
        }

        var (client, connected) = await TestClient.ConnectAsync(server, goodToken);
        await using (client)
        {
            Assert.Equal(FrameKind.Connected, connected.Kind);
        }

        // The HTTP API with a wrong API key, a wrong bearer token, and the right key; and a token in a query string.
        using (var http = server.CreateHttpClient(withApiKey: false))
        {
            using var wrongKey = new HttpRequestMessage(HttpMethod.Post, "/api/v1/broadcast") { Content = JsonContent.Create(new { payload = 1 }) };
            wrongKey.Headers.Add("X-Api-Key", badApiKey);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrongKey)).StatusCode);

            using var wrongBearer = new HttpRequestMessage(HttpMethod.Post, "/api/v1/broadcast") { Content = JsonContent.Create(new { payload = 1 }) };
            wrongBearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", wrongKeyToken);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrongBearer)).StatusCode);

            using var inQuery = await http.GetAsync("/api/v1/publish?access_token=" + goodToken);
            Assert.NotEqual(HttpStatusCode.InternalServerError, inQuery.StatusCode);
        }

        using (var http = server.CreateHttpClient())
        {
            using var ok = await http.PostAsJsonAsync("/api/v1/broadcast", new { payload = 1 });
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        // The request log has run for the 401s (it logs when the response completes).
        await OpsTestEnvironment.EventuallyAsync(
            () => Task.FromResult(sink.Events.Any(e => e.MessageTemplate.Text.StartsWith("HTTP ", StringComparison.Ordinal)
                && e.Properties.TryGetValue("StatusCode", out var s) && s.ToString() == "401") ? "ok" : null),
            TimeSpan.FromSeconds(30),
            "Serilog request-log events for the refused API calls");

        var output = sink.AllOutput + string.Join('\n', server.LogLines);
        Assert.NotEmpty(sink.Events);
        foreach (var secret in new[] { marker, badToken, wrongKeyToken, goodToken, badApiKey, GatewayServer.ApiKey, GatewayServer.SigningSecret })
        {
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
        }

        // Node id on every event; the connection id on connection events (the host's log scope).
        Assert.All(sink.Events, e => Assert.Equal("\"test-node\"", e.Properties["NodeId"].ToString()));
        Assert.Contains(sink.Events, e => e.Properties.ContainsKey("ConnectionId"));
    }

    [Fact]
    public async Task Secrets_logged_by_mistake_are_redacted_by_the_pipeline()
    {
        var sink = new CapturingSerilogSink();
        await using var server = await GatewayServer.StartAsync(configure: b => b.Services.AddSingleton<ILogEventSink>(sink));
        var jwt = GatewayServer.MintToken("carol");
        var logger = server.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Tests.Redaction");

        // Property names that say "secret", a JWT in an innocent property, a bearer header, an API key in a URL.
#pragma warning disable CA2254 // the template is the point of the test
        logger.LogWarning("Refresh {Token} {ApiKey} {Detail} {Header} {Url}", "SENTINEL-T1", "SENTINEL-K1", "token was " + jwt, "Bearer SENTINEL-B1", "https://x/?api_key=SENTINEL-Q1");
#pragma warning restore CA2254

        var evt = await OpsTestEnvironment.EventuallyAsync(
            () => Task.FromResult(sink.Events.FirstOrDefault(e => e.MessageTemplate.Text.StartsWith("Refresh", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(10),
            "the test event");
        Assert.Equal(LogEventLevel.Warning, evt.Level);
        var output = sink.AllOutput;
        foreach (var secret in new[] { "SENTINEL-T1", "SENTINEL-K1", jwt, "SENTINEL-B1", "SENTINEL-Q1" })
        {
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
        }

        Assert.Contains("[redacted]", evt.RenderMessage(), StringComparison.Ordinal);
        Assert.Contains("token was [redacted]", evt.RenderMessage(), StringComparison.Ordinal);
    }

    /// <summary>Mints JWTs with a key the server does not know.</summary>
    private static class TokenMinter
    {
        public static string MintWith(string user) => Gateway.Auth.TokenMinter.Mint(
            System.Text.Encoding.ASCII.GetBytes("not-the-server-key-32-bytes-long"), GatewayServer.Issuer, GatewayServer.Audience, user, null, null, TimeSpan.FromHours(1), "test");
    }
}

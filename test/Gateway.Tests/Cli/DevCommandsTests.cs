using System.Security.Cryptography;
using System.Text;
using Gateway.Auth;
using Gateway.Cli;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Cli;

/// <summary>
/// <c>gateway token</c>, <c>apikey</c> and <c>keygen</c>: what they print is accepted (or refused) by a real
/// gateway over a real WebSocket.
/// </summary>
public sealed class DevCommandsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gateway-cli-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Token_signs_with_the_configured_key_when_one_is_configured()
    {
        await using var server = await GatewayServer.StartAsync();
        var (exit, token, _) = Run("token", "--user", "alice", "--subscribe", "workflow:*",
            "--Gateway:Auth:SigningKeys:0:Id=test", "--Gateway:Auth:SigningKeys:0:Secret=" + GatewayServer.SigningSecret,
            "--dev-key-file", Path.Combine(_dir.FullName, "unused.json"));
        Assert.Equal(0, exit);
        var (client, connected) = await TestClient.ConnectAsync(server, token);
        await using (client)
        {
            Assert.Equal("alice", connected.Text3);
        }

        Assert.False(File.Exists(Path.Combine(_dir.FullName, "unused.json")), "the dev key file is not touched when a key is configured");
    }

    [Fact]
    public async Task Token_with_dev_key_file_signs_with_that_file_and_a_gateway_using_another_key_refuses_it()
    {
        var devFile = Path.Combine(_dir.FullName, "dev-keys.json");
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Auth:SigningKeys:0:Id"] = null,
            ["Gateway:Auth:SigningKeys:0:Algorithm"] = null,
            ["Gateway:Auth:SigningKeys:0:Secret"] = null,
            ["Gateway:Auth:DevKeyFile"] = devFile,
        }, environment: "Development");

        var (exit, token, _) = Run("token", "--user", "bob", "--dev-key-file", devFile);
        Assert.Equal(0, exit);
        var (client, connected) = await TestClient.ConnectAsync(server, token);
        await using (client)
        {
            Assert.Equal("bob", connected.Text3);
        }

        // Another dev key file holds another secret: the token is refused, proving the option is used.
        var (_, other, _) = Run("token", "--user", "bob", "--dev-key-file", Path.Combine(_dir.FullName, "other.json"));
        await using var refused = await TestClient.OpenWebSocketAsync(server);
        await refused.SendAsync(w => FrameWriter.WriteConnect(w, Gateway.Protocol.ProtocolVersion.Current, other, "tests"));
        var (frames, _) = await refused.ReadUntilClosedAsync();
        Assert.Equal(ErrorCode.Unauthorized, Assert.Single(frames).ErrorCode);

        // apikey reads the same file.
        var (apiExit, apiKey, _) = Run("apikey", "--dev-key-file", devFile);
        Assert.Equal(0, apiExit);
        Assert.Equal(DevKeys.LoadOrCreate(devFile).Keys.ApiKey, apiKey);
    }

    [Fact]
    public async Task Keygen_prints_a_secret_and_an_api_key_a_production_configuration_accepts()
    {
        var (exit, secret, _) = Run("keygen");
        Assert.Equal(0, exit);
        Assert.Equal(32, Convert.FromBase64String(secret).Length);
        Assert.NotEqual(secret, Run("keygen").Output);

        var (apiExit, apiKey, apiError) = Run("keygen", "--api-key");
        Assert.Equal(0, apiExit);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)));
        Assert.Contains(hash, apiError, StringComparison.Ordinal);

        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Auth:SigningKeys:0:Id"] = null,
            ["Gateway:Auth:SigningKeys:0:Secret"] = secret,
            ["Gateway:Auth:ApiKeys:0:Sha256"] = hash,
        }, environment: "Production");

        var (_, token, _) = Run("token", "--user", "carol", "--Gateway:Auth:SigningKeys:0:Secret", secret);
        var (client, connected) = await TestClient.ConnectAsync(server, token);
        await using (client)
        {
            Assert.Equal("carol", connected.Text3);
        }

        using var http = new HttpClient { BaseAddress = server.HttpAddress };
        http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        using var body = new StringContent("""{"payload":"hi"}""", Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("/api/v1/broadcast", body);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(new[] { "token", "--user", "alice", "--config-key-file", "x.json" }, "unknown argument '--config-key-file'")]
    [InlineData(new[] { "token", "--subscribe", "workflow:*" }, "--user is required")]
    [InlineData(new[] { "token", "--user" }, "Required argument missing for option: '--user'")]
    [InlineData(new[] { "token", "--user", "a", "--Gateway:Auth:Issuer" }, "--Gateway:Auth:Issuer needs a value")]
    [InlineData(new[] { "apikey", "stray" }, "unknown argument 'stray'")]
    [InlineData(new[] { "token", "--user", "a", "--ttl", "5x" }, "--ttl '5x'")]
    [InlineData(new[] { "token", "--user", "a", "--Gateway:Auth:SigningKeys:0:Algorithm=ES256" }, "only public keys")]
    [InlineData(new[] { "token", "--user", "a", "--Gateway:Auth:SigningKeys:0:Secret=c2hvcnQ=" }, "Secret is 5 bytes")]
    [InlineData(new[] { "keygen", "--bits", "512" }, "unknown argument '--bits'")]
    public void Bad_arguments_exit_2_naming_the_problem(string[] args, string expected)
    {
        var (exit, output, error) = Run(args);
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_the_commands_and_each_command_its_options()
    {
        foreach (var help in new[] { "--help", "help", "-h" })
        {
            var (exit, output, error) = Run(help);
            Assert.Equal(0, exit);
            Assert.Equal("", error);
            Assert.Contains("token", output, StringComparison.Ordinal);
            Assert.Contains("apikey", output, StringComparison.Ordinal);
            Assert.Contains("keygen", output, StringComparison.Ordinal);
        }

        var (tokenExit, tokenHelp, _) = Run("token", "--help");
        Assert.Equal(0, tokenExit);
        foreach (var option in new[] { "--user", "--subscribe", "--publish", "--ttl", "--dev-key-file" })
        {
            Assert.Contains(option, tokenHelp, StringComparison.Ordinal);
        }

        var (keygenExit, keygenHelp, _) = Run("keygen", "--help");
        Assert.Equal(0, keygenExit);
        Assert.Contains("--api-key", keygenHelp, StringComparison.Ordinal);
    }

    [Fact]
    public void Token_takes_short_aliases_repeated_patterns_and_configuration_overrides_in_both_forms()
    {
        var (exit, token, _) = Run("token", "-u", "dora", "-s", "workflow:*", "-s", "team:*", "-p", "team:1", "--ttl", "2h",
            "--Gateway:Auth:Issuer", "other-issuer", "--Gateway:Auth:Audience=other-audience");
        Assert.Equal(0, exit);
        var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token);
        Assert.Equal("dora", jwt.Subject);
        Assert.Equal("other-issuer", jwt.Issuer);
        Assert.Equal(["other-audience"], jwt.Audiences);
        Assert.Equal(["workflow:*", "team:*"], jwt.Claims.Where(c => c.Type == "subscribe").Select(c => c.Value));
        Assert.Equal(["team:1"], jwt.Claims.Where(c => c.Type == "publish").Select(c => c.Value));
        Assert.InRange(jwt.ValidTo - DateTime.UtcNow, TimeSpan.FromMinutes(119), TimeSpan.FromMinutes(121));
    }

    [Fact]
    public void Anything_else_runs_the_server()
    {
        Assert.False(DevCommands.TryRun(["--urls", "http://127.0.0.1:0"], TextWriter.Null, TextWriter.Null, out _));
        Assert.False(DevCommands.TryRun([], TextWriter.Null, TextWriter.Null, out _));
        Assert.True(DevCommands.TryRun(["help"], TextWriter.Null, TextWriter.Null, out var exit));
        Assert.Equal(0, exit);
    }

    private (int Exit, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        // A dev key file inside the test's directory unless the test names one: never the developer's own.
        if (!args.Contains("--dev-key-file") && !args.Contains("--help") && args[0] is "token" or "apikey")
        {
            args = [args[0], "--dev-key-file", Path.Combine(_dir.FullName, "default-dev-keys.json"), .. args[1..]];
        }

        Assert.True(DevCommands.TryRun(args, output, error, out var exit));
        return (exit, output.ToString().Trim(), error.ToString());
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Api;

/// <summary>
/// A body over <c>Gateway:Http:MaxRequestBodyBytes</c> (4 MiB by default) is answered 413 and the client
/// reads that answer even when it writes its whole body before reading anything: the server drains the
/// rest of the body (bounded) before closing, so the kernel never resets the connection over unread input.
/// </summary>
public sealed class OversizedBodyTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const int Runs = 20;
    private const int OversizedBytes = 5 * 1024 * 1024;
    private static readonly byte[] OversizedJson = OversizedJsonBody(OversizedBytes);

    // Chunked bodies are refused once 4 MiB have been read; 12 MiB more does not fit in the kernel's socket buffers.
    private static readonly byte[] LargeOversizedJson = OversizedJsonBody(16 * 1024 * 1024);

    private readonly GatewayServer _server = fixture.Server;

    [Fact]
    public async Task Raw_client_streaming_a_whole_oversized_body_with_content_length_reads_the_413_every_time()
    {
        await EveryRunReadsThe413Async(async () => AssertPayloadTooLarge(await SendRawAsync(_server.HttpAddress, chunked: false, OversizedJson)));
    }

    [Fact]
    public async Task Raw_client_streaming_a_whole_oversized_chunked_body_reads_the_413_every_time()
    {
        await EveryRunReadsThe413Async(async () => AssertPayloadTooLarge(await SendRawAsync(_server.HttpAddress, chunked: true, LargeOversizedJson)));
    }

    [Fact]
    public async Task HttpClient_posting_an_oversized_body_reads_the_413_problem_every_time()
    {
        await EveryRunReadsThe413Async(async () =>
        {
            // A fresh client per run: each 413 closes its connection.
            using var http = _server.CreateHttpClient();
            using var content = new ByteArrayContent(OversizedJson);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.PostAsync("api/v1/publish", content);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"status {(int)response.StatusCode}: {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("payload_too_large", JsonDocument.Parse(text).RootElement.GetProperty("error").GetString());
        });
    }

    /// <summary>Runs <paramref name="attempt"/> <see cref="Runs"/> times; every run must read the 413 (failures are listed).</summary>
    private static async Task EveryRunReadsThe413Async(Func<Task> attempt)
    {
        var failures = new List<string>();
        for (var run = 0; run < Runs; run++)
        {
            try
            {
                await attempt();
            }
            catch (Exception e) when (e is HttpRequestException or IOException or SocketException or Xunit.Sdk.XunitException)
            {
                failures.Add($"run {run}: {e.GetType().Name}: {e.Message} {e.InnerException?.Message}");
            }
        }

        Assert.True(failures.Count == 0, $"{Runs - failures.Count} of {Runs} runs read the 413:\n{string.Join("\n", failures)}");
    }

    [Fact]
    public async Task Draining_is_bounded_a_client_that_keeps_sending_is_cut_off()
    {
        // 64 KiB of drain: a client that streams 256 MiB must see the connection closed long before it is done
        // (the kernel buffers on both sides hold a few MiB at most), so the server did not read unbounded input.
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Http:OversizedBodyDrainBytes"] = "65536",
        });
        const long total = 256L * 1024 * 1024;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.HttpAddress.Host, server.HttpAddress.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(RequestHead(server.HttpAddress, $"Content-Length: {total}")));
        var block = new byte[64 * 1024];
        long sent = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var cut = false;
        try
        {
            while (sent < total)
            {
                await stream.WriteAsync(block, timeout.Token);
                sent += block.Length;
            }
        }
        catch (IOException)
        {
            cut = true;
        }

        Assert.True(cut, $"the server read all {sent} bytes");
        Assert.True(sent < 64L * 1024 * 1024, $"{sent} bytes were accepted before the connection was cut");
        await WaitForAsync(() => server.LogLines.Any(l => l.Contains("gave up draining", StringComparison.Ordinal)));
    }

    /// <summary>A well-formed JSON publish body of exactly <paramref name="size"/> bytes.</summary>
    private static byte[] OversizedJsonBody(int size)
    {
        var head = "{\"topic\":\"team:big\",\"payload\":\""u8.ToArray();
        var tail = "\"}"u8.ToArray();
        var body = new byte[size];
        head.CopyTo(body, 0);
        body.AsSpan(head.Length, size - head.Length - tail.Length).Fill((byte)'a');
        tail.CopyTo(body, size - tail.Length);
        return body;
    }

    private static string RequestHead(Uri address, string lengthHeader) =>
        $"POST /api/v1/publish HTTP/1.1\r\nHost: {address.Host}:{address.Port}\r\nX-Api-Key: {GatewayServer.ApiKey}\r\n" +
        $"Content-Type: application/json\r\n{lengthHeader}\r\n\r\n";

    /// <summary>Writes the whole request (head and body) without reading, then reads the response to EOF.</summary>
    private static async Task<RawResponse> SendRawAsync(Uri address, bool chunked, byte[] body)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port, timeout.Token);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(RequestHead(address, chunked ? "Transfer-Encoding: chunked" : $"Content-Length: {body.Length}")), timeout.Token);
        const int chunk = 64 * 1024;
        for (var offset = 0; offset < body.Length; offset += chunk)
        {
            var length = Math.Min(chunk, body.Length - offset);
            if (chunked)
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{length:x}\r\n"), timeout.Token);
            }

            await stream.WriteAsync(body.AsMemory(offset, length), timeout.Token);
            if (chunked)
            {
                await stream.WriteAsync("\r\n"u8.ToArray(), timeout.Token);
            }
        }

        if (chunked)
        {
            await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), timeout.Token);
        }

        using var received = new MemoryStream();
        await stream.CopyToAsync(received, timeout.Token);
        return RawResponse.Parse(received.ToArray());
    }

    private static void AssertPayloadTooLarge(RawResponse response)
    {
        Assert.True(response.Status == 413, $"status {response.Status}: {response.Body}");
        Assert.Equal("application/problem+json", response.Header("Content-Type")?.Split(';')[0]);
        var problem = JsonDocument.Parse(response.Body).RootElement;
        Assert.Equal(413, problem.GetProperty("status").GetInt32());
        Assert.Equal("payload_too_large", problem.GetProperty("error").GetString());
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(50, timeout.Token);
        }
    }

    /// <summary>An HTTP/1.1 response read off a raw socket (chunked bodies decoded).</summary>
    private sealed record RawResponse(int Status, IReadOnlyList<(string Name, string Value)> Headers, string Body)
    {
        public string? Header(string name) => Headers.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Value;

        public static RawResponse Parse(byte[] bytes)
        {
            var text = Encoding.UTF8.GetString(bytes);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            Assert.True(end > 0, $"no complete response head in {bytes.Length} bytes: '{text}'");
            var lines = text[..end].Split("\r\n");
            var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            var headers = lines.Skip(1).Select(l => (l[..l.IndexOf(':', StringComparison.Ordinal)].Trim(), l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim())).ToList();
            var body = text[(end + 4)..];
            var response = new RawResponse(status, headers, body);
            return string.Equals(response.Header("Transfer-Encoding"), "chunked", StringComparison.OrdinalIgnoreCase)
                ? response with { Body = Dechunk(body) }
                : response;
        }

        private static string Dechunk(string body)
        {
            var result = new StringBuilder();
            var position = 0;
            while (true)
            {
                var lineEnd = body.IndexOf("\r\n", position, StringComparison.Ordinal);
                var size = Convert.ToInt32(body[position..lineEnd].Split(';')[0], 16);
                if (size == 0)
                {
                    return result.ToString();
                }

                result.Append(body, lineEnd + 2, size);
                position = lineEnd + 2 + size + 2;
            }
        }
    }
}

using System.Buffers;
using System.Diagnostics;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Hostile;

// The never-reading clients of the hostile suite (issue 14 items 1 and 11), in their own file: part of the same class
// so that they run before the RSS check. The node must close each within about a minute (slow_consumer: bounded
// control frames, stalled-writer deadline) and keep serving everyone else meanwhile.
public sealed partial class HostileClientTests
{
    /// <summary>How long a never-reading client may hold on before the node must have closed it.</summary>
    public static readonly TimeSpan NeverReaderDeadline = TimeSpan.FromSeconds(60);

    /// <summary>A small client receive buffer, so the node's writes stall after a few KiB instead of megabytes.</summary>
    private const int TinyReceiveBuffer = 4096;

    [Fact]
    [HostileStage(1)]
    public async Task A_subscriber_that_never_reads_is_closed_by_the_node_while_others_are_served()
    {
        var user = "never-reads-" + Guid.NewGuid().ToString("N");
        var topic = "flood:" + user;
        var reader = await HostileTcp.OpenAsync(_server, GatewayServer.MintToken(user, subscribe: ["flood:*"]), TinyReceiveBuffer);
        try
        {
            var subscribe = new ArrayBufferWriter<byte>();
            FrameWriter.WriteSubscribe(subscribe, 1, topic);
            await reader.Stream.WriteAsync(subscribe.WrittenMemory);
            // From here on the client never reads.

            var (publisher, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("flood-publisher-" + Guid.NewGuid().ToString("N"), publish: ["flood:*"]));
            await using var _p = publisher;
            var payload = new string('p', 16 * 1024);
            var clock = Stopwatch.StartNew();
            uint correlation = 0;
            while (fixture.HasSession(user) && clock.Elapsed < NeverReaderDeadline)
            {
                // ~100 publishes/s of 16 KiB: well under the publisher's own frame and byte rate limits.
                for (var i = 0; i < 5; i++)
                {
                    await publisher.SendAsync(Frames.Publish(++correlation, topic, payload, Priority.High));
                }

                await Task.Delay(50);
            }

            output.WriteLine($"never-reading subscriber: {correlation} publishes of 16 KiB; session {(fixture.HasSession(user) ? "STILL OPEN" : "closed by the node")} after {clock.Elapsed.TotalSeconds:F1} s");
            Assert.False(fixture.HasSession(user), $"the node did not close a subscriber that never reads within {NeverReaderDeadline.TotalSeconds} s");
        }
        finally
        {
            reader.Reset();
        }

        await CheckHealthyAsync("subscriber that never reads");
    }

    [Fact]
    [HostileStage(1)]
    public async Task A_publisher_that_never_reads_its_acks_is_closed_by_the_node_while_others_are_served()
    {
        var user = "never-reads-acks-" + Guid.NewGuid().ToString("N");
        var publisher = await HostileTcp.OpenAsync(_server, GatewayServer.MintToken(user, publish: ["flood:*"]), TinyReceiveBuffer);
        var clock = Stopwatch.StartNew();
        uint correlation = 0;
        try
        {
            while (fixture.HasSession(user) && clock.Elapsed < NeverReaderDeadline)
            {
                // ~1,000 publishes/s (under the 2,000 frames/s limit), each answered by a PublishAck nobody reads.
                var batch = new ArrayBufferWriter<byte>();
                for (var i = 0; i < 50; i++)
                {
                    FrameWriter.WritePublish(batch, ++correlation, Priority.Normal, "flood:acks", "x"u8);
                }

                using var writeTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await publisher.Stream.WriteAsync(batch.WrittenMemory, writeTimeout.Token);
                }
                catch (OperationCanceledException)
                {
                    // The node stopped reading us (its socket buffers are full too): keep waiting for it to close.
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    break; // closed by the node
                }

                await Task.Delay(50);
            }

            await WaitUntilAsync(() => !fixture.HasSession(user), "session of a publisher that never reads its acks removed", NeverReaderDeadline - clock.Elapsed + TimeSpan.FromSeconds(1));
            output.WriteLine($"never-reading publisher: {correlation} publishes; closed by the node after {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            publisher.Reset();
        }

        await CheckHealthyAsync("publisher that never reads its acks");
    }
}

using System.Buffers;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Frames;

namespace Gateway.Protocol.Tests;

public sealed class FrameBufferTests
{
    [Fact]
    public void References_are_shared_and_the_last_release_returns_the_buffer_once()
    {
        var pool = new TrackingFrameBufferPool();
        var buffer = pool.Rent(100);
        Assert.Equal(1, buffer.References);

        buffer.AddReference(2);
        Assert.Equal(3, buffer.References);

        buffer.Release();
        buffer.Release();
        Assert.Equal(1, buffer.References);
        Assert.Equal(0, pool.Returned);
        Assert.Equal(1, pool.Outstanding);

        buffer.Release();
        Assert.Equal(0, buffer.References);
        Assert.Equal(1, pool.Returned);
        Assert.Equal(0, pool.Outstanding);
        pool.AssertNoLeaks();
    }

    [Fact]
    public void A_double_release_throws_and_is_reported()
    {
        var pool = new TrackingFrameBufferPool();
        var buffer = pool.Rent(16);
        buffer.Release();

        Assert.Throws<InvalidOperationException>(buffer.Release);
        Assert.Equal(1, pool.DoubleReleases);
        Assert.Equal(1, pool.Returned);
        var e = Assert.Throws<InvalidOperationException>(pool.AssertNoLeaks);
        Assert.Contains("1 double releases", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddReference_after_return_throws_and_the_memory_is_no_longer_reachable()
    {
        var pool = new TrackingFrameBufferPool();
        var buffer = pool.Rent(16);
        buffer.Write([1, 2, 3]);
        buffer.Release();

        Assert.Throws<InvalidOperationException>(() => buffer.AddReference());
        Assert.Equal(0, buffer.References);
        Assert.Throws<ObjectDisposedException>(() => buffer.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => buffer.GetSpan(1));
    }

    [Fact]
    public void AssertNoLeaks_names_a_buffer_that_was_never_released()
    {
        var pool = new TrackingFrameBufferPool { CaptureStacks = true };
        var kept = pool.Rent(32);
        kept.Write([9, 9]);
        pool.Rent(32).Release();

        var e = Assert.Throws<InvalidOperationException>(pool.AssertNoLeaks);
        Assert.Contains("1 outstanding", e.Message, StringComparison.Ordinal);
        Assert.Contains("2 bytes, refs 1", e.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(AssertNoLeaks_names_a_buffer_that_was_never_released), e.Message, StringComparison.Ordinal);

        kept.Release();
        pool.AssertNoLeaks();
    }

    [Fact]
    public void Concurrent_holders_return_the_buffer_exactly_once()
    {
        var pool = new TrackingFrameBufferPool();
        for (var round = 0; round < 200; round++)
        {
            var buffer = pool.Rent(64);
            const int Holders = 8;
            buffer.AddReference(Holders - 1);
            Parallel.For(0, Holders, _ => buffer.Release());
            Assert.Equal(0, buffer.References);
        }

        Assert.Equal(200, pool.Rented);
        Assert.Equal(200, pool.Returned);
        pool.AssertNoLeaks();
    }

    [Fact]
    public void Writer_into_frame_buffers_round_trips_and_every_rented_buffer_comes_back()
    {
        var pool = new TrackingFrameBufferPool();
        var topic = "team:42/alerts"u8.ToArray();
        var payload = new byte[300];
        Random.Shared.NextBytes(payload);

        for (var i = 0; i < 50; i++)
        {
            // Start tiny so the buffer has to grow by swapping pooled arrays while frames are written.
            var buffer = pool.Rent(16);
            var sizes = 0;
            for (var k = 0; k < 5; k++)
            {
                sizes += FrameWriter.WriteMessage(buffer, topic, (Priority)(k % 4), 1, (ulong)((i * 5) + k), 1000 + k, payload.AsSpan(0, i * 6));
            }

            Assert.Equal(sizes, buffer.Length);
            var fanOut = 3;
            buffer.AddReference(fanOut);

            // Each holder parses the shared bytes independently, then drops its reference.
            for (var holder = 0; holder <= fanOut; holder++)
            {
                var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(buffer.Memory));
                var count = 0;
                while (FrameReader.TryRead(ref reader, ProtocolLimits.Default, out var frame))
                {
                    Assert.Equal(FrameKind.Message, frame.Kind);
                    Assert.Equal((ulong)((i * 5) + count), frame.Offset);
                    Assert.True(frame.Topic.ToArray().AsSpan().SequenceEqual(topic));
                    Assert.True(frame.Payload.ToArray().AsSpan().SequenceEqual(payload.AsSpan(0, i * 6)));
                    count++;
                }

                Assert.Equal(5, count);
                Assert.True(reader.End);
                buffer.Release();
            }
        }

        Assert.Equal(50, pool.Rented);
        Assert.Equal(pool.Rented, pool.Returned);
        pool.AssertNoLeaks();
    }

    [Fact]
    public void The_default_pool_reuses_buffers_without_leaking_references()
    {
        var pool = new DefaultFrameBufferPool();
        var first = pool.Rent(32);
        first.Write([1, 2, 3]);
        first.Release();

        var second = pool.Rent(32);
        Assert.Equal(0, second.Length);
        Assert.Equal(1, second.References);
        second.Release();
    }
}

using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;

namespace Gateway.Protocol.Benchmarks;

/// <summary>Memory diagnoser (the hot paths must show 0 B allocated) and a GB/s column.</summary>
public sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(new ThroughputColumn());
    }
}

using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Gateway.Dispatch.Benchmarks.FanOutBenchmarks).Assembly).Run(args);

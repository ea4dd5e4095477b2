namespace Gateway.Fuzz.Targets;

/// <summary>
/// One fuzz target: code that must accept ANY input without failing except as the protocol allows
/// (a <see cref="Gateway.Protocol.Errors.ProtocolException"/> with a defined, fatal code). A target throws
/// <see cref="FuzzFindingException"/> (or lets any other exception escape) when it finds a bug.
/// Targets are plain code with no fuzzer dependency: the SharpFuzz harness (Program.cs) and the fixed-budget
/// CI run (test/Protocol.Tests/FuzzBudgetTests.cs) call the same <see cref="Run"/>.
/// </summary>
internal interface IFuzzTarget
{
    /// <summary>The name used on the command line and in the corpus layout (test/Fuzz/corpus/&lt;name&gt;/).</summary>
    string Name { get; }

    /// <summary>Runs one input.</summary>
    void Run(ReadOnlySpan<byte> input);
}

namespace Gateway.Fuzz.Targets;

/// <summary>A fuzz target found input the code under test handles wrongly (not a crash, a broken promise).</summary>
internal sealed class FuzzFindingException(string message) : Exception(message);

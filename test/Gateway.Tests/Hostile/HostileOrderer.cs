using Xunit.Abstractions;
using Xunit.Sdk;

namespace Gateway.Tests.Hostile;

/// <summary>
/// Orders the hostile suite's cases: by <see cref="HostileStageAttribute"/> (the never-reading clients after the
/// others, the RSS check last), then by name, so every case has run before the RSS is read again.
/// </summary>
public sealed class HostileOrderer : ITestCaseOrderer
{
    /// <summary>Full type name, for <see cref="TestCaseOrdererAttribute"/>.</summary>
    public const string TypeName = "Gateway.Tests.Hostile.HostileOrderer";

    /// <summary>Assembly name, for <see cref="TestCaseOrdererAttribute"/>.</summary>
    public const string AssemblyName = "Gateway.Tests";

    /// <inheritdoc />
    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase =>
        testCases
            .OrderBy(t => Stage(t))
            .ThenBy(t => t.TestMethod.Method.Name, StringComparer.Ordinal)
            .ThenBy(t => t.DisplayName, StringComparer.Ordinal);

    private static int Stage(ITestCase testCase) =>
        testCase.TestMethod.Method.GetCustomAttributes(typeof(HostileStageAttribute)).FirstOrDefault()?.GetConstructorArguments().OfType<int>().FirstOrDefault() ?? 0;
}

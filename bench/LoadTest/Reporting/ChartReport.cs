namespace LoadTest.Reporting;

public static class ChartReport
{
    public static void Write(IReadOnlyList<string> files, string outDir)
    {
        Directory.CreateDirectory(outDir);
    }
}

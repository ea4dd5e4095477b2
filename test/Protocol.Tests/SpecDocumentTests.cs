using System.Globalization;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Protocol.Tests;

/// <summary>docs/protocol.md is normative: its tables must say exactly what the code does.</summary>
public sealed class SpecDocumentTests
{
    private static readonly string[] Lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "docs", "protocol.md"));

    private static List<string[]> TableRows(string firstHeaderCell) =>
        Lines.SkipWhile(l => !l.StartsWith("| " + firstHeaderCell + " |", StringComparison.Ordinal))
            .Skip(2)
            .TakeWhile(l => l.StartsWith('|'))
            .Select(l => l.Trim('|').Split('|').Select(c => c.Trim()).ToArray())
            .ToList();

    [Fact]
    public void Error_table_matches_the_catalog_exactly()
    {
        var rows = TableRows("code (hex)");
        Assert.Equal(ErrorCatalog.All.Count, rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var e = ErrorCatalog.All[i];
            var r = rows[i];
            Assert.Equal($"`0x{(ushort)e.Code:x4}`", r[0]);
            Assert.Equal(((ushort)e.Code).ToString(CultureInfo.InvariantCulture), r[1]);
            Assert.Equal($"`{e.Name}`", r[2]);
            Assert.Equal(e.Description, r[3]);
            Assert.Equal(e.Retryable ? "yes" : "no", r[4]);
            Assert.Equal(e.Fatal ? "yes" : "no", r[5]);
            Assert.Equal(e.CloseCode == 0 ? "—" : e.CloseCode.ToString(CultureInfo.InvariantCulture), r[6]);
            Assert.Equal(e.HttpStatus.ToString(CultureInfo.InvariantCulture), r[7]);
        }
    }

    [Fact]
    public void Close_code_table_lists_every_close_code_the_catalog_uses()
    {
        var documented = TableRows("close code").Select(r => ushort.Parse(r[0], CultureInfo.InvariantCulture)).ToHashSet();
        Assert.Superset(ErrorCatalog.All.Where(e => e.Fatal).Select(e => e.CloseCode).ToHashSet(), documented);
        Assert.Superset(new HashSet<ushort> { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 1012, 4001, 4002, 4003, 4004, 4005, 4008, 4009, 4010 }, documented);
    }

    [Fact]
    public void Every_fatal_error_has_a_close_code_and_no_request_error_has_one()
    {
        Assert.All(ErrorCatalog.All, e => Assert.Equal(e.Fatal, e.CloseCode != 0));
        Assert.All(ErrorCatalog.All.Where(e => (ushort)e.Code >> 8 == 1), e => Assert.True(e.Fatal, e.Name));
    }

    [Fact]
    public void Kind_table_lists_every_kind_with_its_byte()
    {
        var rows = TableRows("kind");
        foreach (var kind in Enum.GetValues<FrameKind>())
        {
            Assert.Contains(rows, r => r.Length > 1 && r[0] == $"`0x{(byte)kind:X2}`" && r[1] == kind.ToString());
        }
    }
}

using System.Globalization;
using System.Text;

namespace Chaos;

/// <summary>
/// Draws a scenario's timeline as SVG: delivered msgs/s (left axis) and connected clients (right axis) over time,
/// the fault window shaded, markers as dashed vertical lines. Same palette as bench/LoadTest's charts.
/// </summary>
public static class ChartSvg
{
    private const int Width = 1000;
    private const int Height = 520;
    private const int Left = 80;
    private const int Right = 80;
    private const int Top = 50;
    private const int Bottom = 60;
    private const string Blue = "#1f77b4";
    private const string Orange = "#ff7f0e";
    private const string Red = "#d62728";

    public static string Draw(string title, Timeline timeline)
    {
        var points = timeline.Points;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">{Escape(title)}</text>\n");
        var tMax = Math.Max(1, points.Count > 0 ? points[^1].T : 1);
        var dMax = Nice(Math.Max(1, points.Count > 0 ? points.Max(p => p.Delivered) : 1));
        var cMax = Nice(Math.Max(1, points.Count > 0 ? points.Max(p => p.Connected) : 1));
        double X(double t) => Left + (t / tMax * (Width - Left - Right));
        double YD(double v) => Height - Bottom - (v / dMax * (Height - Top - Bottom));
        double YC(double v) => Height - Bottom - (v / cMax * (Height - Top - Bottom));

        if (!double.IsNaN(timeline.FaultStart))
        {
            var end = double.IsNaN(timeline.FaultEnd) ? tMax : timeline.FaultEnd;
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{X(timeline.FaultStart):F1}\" y=\"{Top}\" width=\"{Math.Max(1, X(end) - X(timeline.FaultStart)):F1}\" height=\"{Height - Top - Bottom}\" fill=\"{Red}\" fill-opacity=\"0.12\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(timeline.FaultStart) + 4:F1}\" y=\"{Top + 14}\" fill=\"{Red}\">fault window</text>\n");
        }

        // Grid and axes.
        for (var i = 0; i <= 5; i++)
        {
            var y = Top + (i * (Height - Top - Bottom) / 5.0);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{y:F1}\" x2=\"{Width - Right}\" y2=\"{y:F1}\" stroke=\"#ddd\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{y + 4:F1}\" text-anchor=\"end\" fill=\"{Blue}\">{dMax * (5 - i) / 5:0.#}</text>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width - Right + 6}\" y=\"{y + 4:F1}\" fill=\"{Orange}\">{cMax * (5 - i) / 5:0.#}</text>\n");
        }

        var step = NiceStep(tMax / 10);
        for (var t = 0.0; t <= tMax + 0.001; t += step)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(t):F1}\" y=\"{Height - Bottom + 18}\" text-anchor=\"middle\">{t:0.#}</text>\n");
        }

        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{Width - Left - Right}\" height=\"{Height - Top - Bottom}\" fill=\"none\" stroke=\"#333\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"{Height - 20}\" text-anchor=\"middle\">seconds since the scenario started</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(20,{Height / 2}) rotate(-90)\" text-anchor=\"middle\" fill=\"{Blue}\">delivered msgs/s (all clients)</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate({Width - 20},{Height / 2}) rotate(90)\" text-anchor=\"middle\" fill=\"{Orange}\">connected clients</text>\n");

        // Markers.
        var row = 0;
        foreach (var m in timeline.Markers)
        {
            var x = X(m.T);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x:F1}\" y1=\"{Top}\" x2=\"{x:F1}\" y2=\"{Height - Bottom}\" stroke=\"#7f7f7f\" stroke-dasharray=\"4,3\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + 3:F1}\" y=\"{Top + 30 + (row % 6 * 14)}\" fill=\"#555\" font-size=\"10\">{Escape(m.Label)}</text>\n");
            row++;
        }

        if (points.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{Blue}\" stroke-width=\"2\" points=\"{string.Join(' ', points.Select(p => $"{X(p.T):F1},{YD(p.Delivered):F1}"))}\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{Orange}\" stroke-width=\"2\" points=\"{string.Join(' ', points.Select(p => $"{X(p.T):F1},{YC(p.Connected):F1}"))}\"/>\n");
        }

        // Legend.
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left + 10}\" y=\"{Height - Bottom - 48}\" width=\"200\" height=\"40\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left + 18}\" y1=\"{Height - Bottom - 34}\" x2=\"{Left + 40}\" y2=\"{Height - Bottom - 34}\" stroke=\"{Blue}\" stroke-width=\"2\"/><text x=\"{Left + 46}\" y=\"{Height - Bottom - 30}\">delivered msgs/s</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left + 18}\" y1=\"{Height - Bottom - 18}\" x2=\"{Left + 40}\" y2=\"{Height - Bottom - 18}\" stroke=\"{Orange}\" stroke-width=\"2\"/><text x=\"{Left + 46}\" y=\"{Height - Bottom - 14}\">connected clients</text>\n");
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    private static double Nice(double max)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(max)));
        foreach (var f in new[] { 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 })
        {
            if (f * magnitude >= max)
            {
                return f * magnitude;
            }
        }

        return 10 * magnitude;
    }

    private static double NiceStep(double raw)
    {
        foreach (var s in new double[] { 1, 2, 5, 10, 15, 20, 30, 60, 120, 300 })
        {
            if (s >= raw)
            {
                return s;
            }
        }

        return 600;
    }

    private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}

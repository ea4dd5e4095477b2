namespace Gateway.Configuration;

/// <summary>
/// <c>Gateway:Management</c>: where the operations endpoints (<c>/metrics</c>, <c>/api/v1/stats*</c>,
/// <c>/dashboard</c>, <c>POST /api/v1/admin/drain</c>) are served and whether they need an admin key. <c>/health/*</c>
/// stays open on every listener (probes).
/// </summary>
public sealed class ManagementOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Gateway:Management";

    /// <summary>
    /// URLs (<c>;</c>-separated, like <c>urls</c>) of a separate management listener, e.g. <c>http://127.0.0.1:5082</c>.
    /// When set, the operations endpoints are served there only (the public listener answers 404) and the listener
    /// serves nothing else but <c>/health/*</c>. Empty: everything on the public listener.
    /// </summary>
    public string? Urls { get; set; }

    /// <summary>
    /// Whether the operations endpoints need an API key with the <c>admin</c> scope (the drain always does). Not set:
    /// required in Production unless <see cref="Urls"/> is set, not required otherwise (Development's dashboard needs
    /// no setup).
    /// </summary>
    public bool? RequireAdminKey { get; set; }

    /// <summary>Whether a management listener is configured.</summary>
    public bool HasListener => !string.IsNullOrWhiteSpace(Urls);

    /// <summary>Whether the operations endpoints need an admin key in <paramref name="isProduction"/>.</summary>
    public bool AdminKeyRequired(bool isProduction) => RequireAdminKey ?? (isProduction && !HasListener);
}

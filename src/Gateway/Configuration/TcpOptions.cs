using System.ComponentModel.DataAnnotations;

namespace Gateway.Configuration;

/// <summary><c>Gateway:Tcp</c>: the raw TCP endpoint for native clients.</summary>
public sealed class TcpOptions
{
    /// <summary>Whether the raw TCP endpoint listens at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Port of the raw TCP endpoint; 0 = ephemeral (tests).</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 5081;

    /// <summary>Address to bind: an IP address, <c>localhost</c>, or <c>*</c> / <c>0.0.0.0</c> for every interface.</summary>
    [Required]
    public string BindAddress { get; set; } = "*";
}

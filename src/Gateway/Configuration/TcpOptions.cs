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

    /// <summary>
    /// Address to bind: an IP address, <c>localhost</c>, or <c>*</c> / <c>0.0.0.0</c> for every interface. Loopback by
    /// default, like the HTTP listener: exposing the raw protocol is an explicit decision (with <see cref="Tls"/>, or
    /// <see cref="AllowPlaintext"/> outside Development).
    /// </summary>
    [Required]
    public string BindAddress { get; set; } = "localhost";

    /// <summary>TLS for the raw TCP endpoint (<c>tcps://</c>); off while no certificate is configured.</summary>
    public TcpTlsOptions Tls { get; set; } = new();

    /// <summary>
    /// Outside Development, plaintext raw TCP on a non-loopback address is refused at start unless this is true:
    /// set it only when TLS is terminated in front of the node (a TLS-terminating load balancer) or the network is
    /// private, since tokens and messages otherwise cross the network in the clear.
    /// </summary>
    public bool AllowPlaintext { get; set; }
}

using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ingest.Testing;

/// <summary>
/// A self-signed certificate for 127.0.0.1 made in the test, written as a PEM pair (certificate and
/// PKCS#8 key) to a folder of its own, for <c>Kestrel:Endpoints:Https:Certificate:Path</c> and
/// <c>KeyPath</c>; the folder is deleted on dispose.
/// </summary>
internal sealed class TestCertificate : IDisposable
{
    private readonly DirectoryInfo _folder;

    private TestCertificate(X509Certificate2 certificate, DirectoryInfo folder, string certificatePath, string keyPath)
    {
        Certificate = certificate;
        _folder = folder;
        CertificatePath = certificatePath;
        KeyPath = keyPath;
    }

    public X509Certificate2 Certificate { get; }

    public string CertificatePath { get; }

    public string KeyPath { get; }

    /// <summary>The Kestrel settings of an https endpoint on 127.0.0.1 (a random port) with this certificate.</summary>
    public Dictionary<string, string?> HttpsEndpoint => new()
    {
        ["Kestrel:Endpoints:Https:Url"] = "https://127.0.0.1:0",
        ["Kestrel:Endpoints:Https:Certificate:Path"] = CertificatePath,
        ["Kestrel:Endpoints:Https:Certificate:KeyPath"] = KeyPath,
    };

    public static TestCertificate Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false)); // serverAuth
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        var folder = Directory.CreateTempSubdirectory("ingest-tls-");
        var certificatePath = Path.Combine(folder.FullName, "gateway.crt");
        var keyPath = Path.Combine(folder.FullName, "gateway.key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return new TestCertificate(certificate, folder, certificatePath, keyPath);
    }

    /// <summary>True only for this certificate: what a client that pins it accepts.</summary>
    public bool Accepts(X509Certificate? presented) =>
        presented is not null && presented.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(Certificate.GetCertHash(HashAlgorithmName.SHA256));

    public void Dispose()
    {
        Certificate.Dispose();
        _folder.Delete(recursive: true);
    }
}

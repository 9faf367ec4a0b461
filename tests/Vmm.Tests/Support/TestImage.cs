using System.Text;

namespace ActorVmm.Vmm.Tests.Support;

/// <summary>
/// A raw disk image for KVM tests under the checkout's <c>artifacts/test-images</c> (not /tmp: inside the nested
/// runner /tmp is a fresh tmpfs the host side cannot see). Deleted on dispose.
/// </summary>
public sealed class TestImage : IDisposable
{
    private TestImage(string path) => Path = path;

    public string Path { get; }

    /// <summary>
    /// An image of <paramref name="bytes"/> bytes whose sector 0 holds <paramref name="sector0"/> (ASCII, zero-padded),
    /// in <paramref name="directory"/> (default artifacts/test-images).
    /// </summary>
    public static TestImage Create(long bytes, string sector0, string? directory = null)
    {
        var dir = directory ?? System.IO.Path.Combine(Checkout.Root(), "artifacts", "test-images");
        Directory.CreateDirectory(dir);
        var path = System.IO.Path.Combine(dir, $"disk-{Guid.NewGuid():N}.img");
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            file.SetLength(bytes);
            file.Write(Encoding.ASCII.GetBytes(sector0));
        }

        return new TestImage(path);
    }

    /// <summary><paramref name="count"/> bytes at <paramref name="offset"/>, as ASCII with trailing NULs removed.</summary>
    public string ReadText(long offset, int count)
    {
        var buffer = new byte[count];
        using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        file.Position = offset;
        file.ReadExactly(buffer);
        return Encoding.ASCII.GetString(buffer).TrimEnd('\0');
    }

    public void Dispose()
    {
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
    }
}

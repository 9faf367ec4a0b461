using ActorVmm.Kvm.Linux;
using Xunit;

namespace ActorVmm.Kvm.Tests.Linux;

public sealed class FileSpaceTests : IDisposable
{
    private const int Length = 16384;

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"actorvmm-filespace-{Guid.NewGuid():N}");

    public FileSpaceTests() => File.WriteAllBytes(_path, Enumerable.Repeat((byte)0xA5, Length).ToArray());

    public void Dispose() => File.Delete(_path);

    [Fact]
    public void Punching_a_hole_should_zero_just_that_range_or_report_that_it_cannot()
    {
        bool punched;
        using (var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite))
        {
            punched = FileSpace.TryPunchHole(handle, 4096, 8192);
        }

        var file = File.ReadAllBytes(_path);
        Assert.Equal(Length, file.Length);
        Assert.True(file.AsSpan(0, 4096).IndexOfAnyExcept((byte)0xA5) < 0);
        Assert.True(file.AsSpan(12288).IndexOfAnyExcept((byte)0xA5) < 0);
        Assert.True(file.AsSpan(4096, 8192).IndexOfAnyExcept(punched ? (byte)0 : (byte)0xA5) < 0);
        Assert.Equal(punched, FileSpace.PunchesHoles(Path.GetTempPath()));
    }

    [Fact]
    public void Zeroing_or_allocating_should_never_change_the_size_or_the_data_outside_the_range()
    {
        bool zeroed;
        using (var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite))
        {
            zeroed = FileSpace.TryZeroRange(handle, 4096, 4096);
            FileSpace.TryAllocate(handle, 0, Length * 2); // past the end: KEEP_SIZE, so the file must not grow
        }

        var file = File.ReadAllBytes(_path);
        Assert.Equal(Length, file.Length);
        Assert.True(file.AsSpan(0, 4096).IndexOfAnyExcept((byte)0xA5) < 0);
        Assert.True(file.AsSpan(8192).IndexOfAnyExcept((byte)0xA5) < 0);
        Assert.True(file.AsSpan(4096, 4096).IndexOfAnyExcept(zeroed ? (byte)0 : (byte)0xA5) < 0);
    }

    [Fact]
    public void A_read_only_handle_should_fail_with_an_io_error_naming_EBADF()
    {
        using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read);

        var ex = Assert.Throws<IOException>(() => FileSpace.TryPunchHole(handle, 0, 4096));

        Assert.Contains("EBADF", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Theory]
    [InlineData(-1, 4096)]
    [InlineData(0, 0)]
    [InlineData(0, -4096)]
    public void Negative_offsets_and_empty_ranges_should_be_refused(long offset, long length)
    {
        using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite);

        Assert.Throws<ArgumentOutOfRangeException>(() => FileSpace.TryPunchHole(handle, offset, length));
    }
}

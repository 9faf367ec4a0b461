using System.Text;
using ActorVmm.Host.GuestConsole;
using Xunit;

namespace ActorVmm.Actors.Tests.GuestConsole;

public sealed class ConsoleOutputSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvmm-console-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Bytes_should_reach_the_stream_in_order()
    {
        var stream = new MemoryStream();
        var output = new ConsoleOutput(stream, ownsStream: false);

        foreach (var b in Encoding.ASCII.GetBytes("Linux version 6.1\r\n"))
        {
            output.WriteByte(b);
        }

        output.Write(Encoding.ASCII.GetBytes("login: "));
        await output.FlushAsync();

        Assert.Equal("Linux version 6.1\r\nlogin: ", Encoding.ASCII.GetString(stream.ToArray()));
        Assert.Equal(0, output.DroppedBytes);
        await output.DisposeAsync();
    }

    [Fact]
    public async Task Writer_should_not_block_on_a_stuck_stream_and_drop_beyond_the_bound()
    {
        var stuck = new BlockingStream();
        var output = new ConsoleOutput(stuck, ownsStream: false, maxPending: 16);

        output.Write(new byte[8]);           // taken by the drain task, which then blocks in Write
        stuck.Entered.Wait();
        output.Write(new byte[16]);          // fills the pending buffer
        output.Write(new byte[10]);          // beyond the bound: dropped, and Write still returns

        Assert.Equal(10, output.DroppedBytes);
        stuck.Release.Set();
        await output.FlushAsync();
        Assert.Equal(24, stuck.Written);
        await output.DisposeAsync();
    }

    [Fact]
    public async Task A_failing_stream_should_be_recorded_and_later_output_dropped()
    {
        var output = new ConsoleOutput(new FailingStream(), ownsStream: false);

        output.Write(new byte[4]);
        await output.FlushAsync();
        output.Write(new byte[3]);

        Assert.IsType<IOException>(output.WriteError);
        Assert.Equal(7, output.DroppedBytes);
        await output.DisposeAsync();
    }

    [Fact]
    public async Task File_spec_should_create_the_file_and_write_to_it()
    {
        var path = Path.Combine(_dir, "serial.log");
        File.WriteAllText(path, "old contents that must go");

        await using (var output = ConsoleOutput.Open(SerialSpec.File(path)))
        {
            output.Write("boot\n"u8);
        }

        Assert.Equal("boot\n", File.ReadAllText(path));
    }

    [Fact]
    public void Unwritable_file_should_be_a_clear_console_error()
    {
        var path = Path.Combine(_dir, "missing-dir", "serial.log");

        var e = Assert.Throws<ConsoleException>(() => ConsoleOutput.Open(SerialSpec.File(path)));

        Assert.StartsWith($"cannot open serial output file {path}", e.Message);
    }

    [Fact]
    public async Task None_spec_should_discard_output()
    {
        await using var output = ConsoleOutput.Open(SerialSpec.None);

        output.Write(new byte[100]);
        await output.FlushAsync();

        Assert.Equal(0, output.DroppedBytes);
    }

    [Fact]
    public async Task Writes_after_dispose_should_be_dropped_not_thrown()
    {
        var output = new ConsoleOutput(new MemoryStream(), ownsStream: true);
        await output.DisposeAsync();

        output.Write(new byte[5]);

        Assert.Equal(5, output.DroppedBytes);
    }

    [Fact]
    public async Task Output_should_be_written_by_its_own_thread_not_a_pool_worker()
    {
        var stream = new RecordingStream();
        var output = new ConsoleOutput(stream, ownsStream: false);

        output.Write("x"u8);
        await output.FlushAsync();

        Assert.Equal([("console-out", false)], stream.Writers);
        await output.DisposeAsync();
    }

    [Fact]
    public async Task Byte_at_a_time_output_should_coalesce_into_few_stream_writes()
    {
        var stream = new RecordingStream();
        var output = new ConsoleOutput(stream, ownsStream: false, coalesceDelay: TimeSpan.FromMilliseconds(300));

        for (var i = 0; i < 200; i++)
        {
            output.WriteByte((byte)('a' + (i % 26)));
        }

        await output.FlushAsync();

        Assert.Equal(200, stream.Bytes);
        Assert.InRange(stream.Writers.Count, 1, 2);
        await output.DisposeAsync();
    }

    private sealed class RecordingStream : MemoryStream
    {
        public List<(string? Name, bool Pool)> Writers { get; } = [];

        public int Bytes { get; private set; }

        public override void Write(byte[] buffer, int offset, int count)
        {
            Writers.Add((Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread));
            Bytes += count;
        }
    }

    private sealed class BlockingStream : Stream
    {
        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public int Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Entered.Set();
            Release.Wait();
            Written += count;
        }
    }

    private sealed class FailingStream : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("No space left on device");
    }
}

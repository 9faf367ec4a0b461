using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using ActorVmm.Kvm.Host;
using ActorVmm.Kvm.Memory;
using Microsoft.Win32.SafeHandles;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// virtio-blk (device id 2) over a raw image file: one request queue, IN / OUT / FLUSH / GET_ID. Out-of-range
/// sectors, partial sectors and host I/O failures complete with VIRTIO_BLK_S_IOERR; other request types with
/// VIRTIO_BLK_S_UNSUPP. Read-only images advertise VIRTIO_BLK_F_RO and fail writes with IOERR.
/// Writable images also take DISCARD (a hole punched in the image; a no-op where the host file system cannot) and
/// WRITE_ZEROES (a hole when the guest allows unmapping, else a zeroed allocated range; written zeroes as the last
/// resort), as QEMU's virtio-blk does.
/// <para>
/// Data goes straight between the image and guest RAM: one preadv/pwritev over views of the request's buffers
/// (<see cref="GuestMemory.GetMemory"/>, bounds-checked, split at RAM region boundaries), no bounce buffer.
/// The per-request path (here, <see cref="Virtqueue"/>, <see cref="DescriptorChain"/>, the transport, guest memory
/// accessors, the device endpoint) is marked AggressiveOptimization: the runtime otherwise runs it as tier-0 code
/// until call counting promotes it, which under a busy (or nested, emulated) host took most of a benchmark run and
/// cost about half the throughput (tools/bench/disk.sh).
/// </para>
/// </summary>
public sealed class VirtioBlockDevice : IVirtioDevice, IDisposable
{
    public const int SectorSize = 512;
    public const ulong FeatureSizeMax = 1UL << 1;
    public const ulong FeatureSegMax = 1UL << 2;
    public const ulong FeatureReadOnly = 1UL << 5;
    public const ulong FeatureBlkSize = 1UL << 6;
    public const ulong FeatureFlush = 1UL << 9;
    public const ulong FeatureDiscard = 1UL << 13;
    public const ulong FeatureWriteZeroes = 1UL << 14;

    public const uint RequestIn = 0;
    public const uint RequestOut = 1;
    public const uint RequestFlush = 4;
    public const uint RequestGetId = 8;
    public const uint RequestDiscard = 11;
    public const uint RequestWriteZeroes = 13;

    /// <summary>Flag of a write-zeroes range: the device may deallocate it.</summary>
    public const uint RangeFlagUnmap = 1;

    /// <summary>Largest range, in sectors, of one discard or write-zeroes segment (512 MiB).</summary>
    public const uint MaxRangeSectors = 1U << 20;

    /// <summary>Most ranges in one discard request (Linux sends up to 256).</summary>
    public const uint MaxDiscardSegments = 32;

    /// <summary>Discard alignment and granularity, in sectors (4 KiB: a page of the host's page cache).</summary>
    public const uint DiscardAlignmentSectors = 8;

    /// <summary>Bytes of one discard / write-zeroes range (le64 sector, le32 num_sectors, le32 flags).</summary>
    public const int RangeLength = 16;

    public const byte StatusOk = 0;
    public const byte StatusIoError = 1;
    public const byte StatusUnsupported = 2;

    /// <summary>Length of the GET_ID serial.</summary>
    public const int IdLength = 20;

    private const int HeaderLength = 16;
    private const int ConfigLength = 0x3C;

    /// <summary>Buffers per preadv/pwritev call (Linux's IOV_MAX).</summary>
    private const int MaxVectors = 1024;

    /// <summary>Source of written zeroes where the host file system cannot zero a range itself.</summary>
    private static readonly byte[] ZeroBlock = new byte[1 << 16];

    private readonly FileStream _file;
    private readonly SafeFileHandle _handle;
    private readonly byte[] _serial = new byte[IdLength];
    private readonly uint _sizeMax;

    // Per-request scratch lists (the transport calls ProcessQueue one request at a time, under its lock).
    private readonly List<Memory<byte>> _segments = [];
    private readonly List<Memory<byte>> _readBatch = [];
    private readonly List<ReadOnlyMemory<byte>> _writeBatch = [];

    /// <param name="path">A raw image, a whole number of 512-byte sectors.</param>
    /// <param name="readOnly">Open read-only and advertise VIRTIO_BLK_F_RO.</param>
    /// <param name="serial">GET_ID answer (ASCII, at most 20 bytes used); default the file name.</param>
    /// <param name="queueSize">Maximum queue size (a power of two).</param>
    /// <exception cref="VirtioBlockException">The image cannot be used (one-line reason).</exception>
    public VirtioBlockDevice(string path, bool readOnly = false, string? serial = null, ushort queueSize = 256)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (queueSize < 4 || (queueSize & (queueSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(queueSize), queueSize, "queue size must be a power of two of at least 4");
        }

        _file = Open(path, readOnly);
        _handle = _file.SafeFileHandle;
        var length = _file.Length;
        if (length == 0)
        {
            _file.Dispose();
            throw new VirtioBlockException($"disk image '{path}' is empty");
        }

        if (length % SectorSize != 0)
        {
            _file.Dispose();
            throw new VirtioBlockException($"disk image '{path}' is {length} bytes, not a multiple of {SectorSize}");
        }

        Path = path;
        ReadOnly = readOnly;
        CapacitySectors = (ulong)length / SectorSize;
        MaxQueueSize = queueSize;
        // The largest request Linux builds is seg_max segments of size_max bytes (plus header and status); keep it
        // within the queue's per-chain bound so no legitimate request is failed as malformed.
        var limits = VirtqueueLimits.Default;
        var perSegment = (limits.MaxChainLength - 4096) / (ulong)(queueSize - 2);
        _sizeMax = (uint)Math.Min(limits.MaxDescriptorLength, perSegment & ~4095UL);
        var id = Encoding.ASCII.GetBytes(serial ?? System.IO.Path.GetFileName(path));
        id.AsSpan(0, Math.Min(IdLength, id.Length)).CopyTo(_serial);
    }

    public string Path { get; }

    public bool ReadOnly { get; }

    /// <summary>Size in 512-byte sectors.</summary>
    public ulong CapacitySectors { get; }

    /// <summary>
    /// Fault injection hook (tests, <c>--fault disk0:...</c>); null in normal use. Called once per popped request,
    /// before it is served, with the request's position in the avail ring (a restart from saved state pops the same
    /// request at the same position again). Return true to fail the request's I/O (IN / OUT / FLUSH) as a host I/O
    /// error would: VIRTIO_BLK_S_IOERR. If it throws, the request is put back (<see cref="Virtqueue.UndoPop"/>)
    /// before the exception propagates to the caller (the supervising actor), so it was neither served nor completed.
    /// </summary>
    public Func<ushort, bool>? RequestHook { get; set; }

    public ushort DeviceType => VirtioDeviceType.Block;

    public ulong AvailableFeatures =>
        VirtioFeatures.TransportDefault | FeatureSizeMax | FeatureSegMax | FeatureFlush | FeatureBlkSize
        | (ReadOnly ? FeatureReadOnly : FeatureDiscard | FeatureWriteZeroes);

    public int QueueCount => 1;

    public ushort MaxQueueSize { get; }

    public int ConfigSize => ConfigLength;

    public void ReadConfig(ulong offset, Span<byte> data)
    {
        Span<byte> config = stackalloc byte[ConfigLength];
        config.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(config, CapacitySectors);
        BinaryPrimitives.WriteUInt32LittleEndian(config[8..], _sizeMax);
        BinaryPrimitives.WriteUInt32LittleEndian(config[12..], (uint)(MaxQueueSize - 2));
        BinaryPrimitives.WriteUInt32LittleEndian(config[20..], SectorSize);
        if (!ReadOnly)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(config[36..], MaxRangeSectors); // max_discard_sectors
            BinaryPrimitives.WriteUInt32LittleEndian(config[40..], MaxDiscardSegments); // max_discard_seg
            BinaryPrimitives.WriteUInt32LittleEndian(config[44..], DiscardAlignmentSectors); // discard_sector_alignment
            BinaryPrimitives.WriteUInt32LittleEndian(config[48..], MaxRangeSectors); // max_write_zeroes_sectors
            BinaryPrimitives.WriteUInt32LittleEndian(config[52..], 1); // max_write_zeroes_seg
            config[56] = 1; // write_zeroes_may_unmap
        }

        config.Slice((int)offset, data.Length).CopyTo(data);
    }

    public void WriteConfig(ulong offset, ReadOnlySpan<byte> data)
    {
        // Nothing writable without VIRTIO_BLK_F_CONFIG_WCE, which is not offered.
    }

    public void Activate(VirtioContext context)
    {
    }

    // Hot path, once per request: no tier-0 code (see VirtioBlockDevice remarks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool ProcessQueue(int index, Virtqueue queue, GuestMemory memory)
    {
        var added = false;
        for (var budget = queue.Size; budget > 0; budget--)
        {
            var chain = queue.TryPop(memory);
            if (chain is null)
            {
                break;
            }

            var failIo = false;
            if (RequestHook is { } hook)
            {
                try
                {
                    failIo = hook((ushort)(queue.NextAvail - 1));
                }
                catch
                {
                    queue.UndoPop();
                    throw;
                }
            }

            queue.AddUsed(memory, chain.HeadIndex, Serve(chain, queue, memory, failIo));
            added = true;
        }

        return added;
    }

    public void Reset()
    {
    }

    public object? SaveDeviceState() => null;

    public void RestoreDeviceState(object? state)
    {
    }

    public void Dispose() => _file.Dispose();

    private static FileStream Open(string path, bool readOnly)
    {
        if (!File.Exists(path))
        {
            throw new VirtioBlockException($"disk image '{path}' does not exist");
        }

        try
        {
            return new FileStream(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                readOnly ? FileShare.Read : FileShare.None, bufferSize: 0, FileOptions.RandomAccess);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new VirtioBlockException(
                readOnly ? $"disk image '{path}' is not readable" : $"disk image '{path}' is not writable (attach it read-only?)", ex);
        }
        catch (IOException ex)
        {
            throw new VirtioBlockException($"disk image '{path}' cannot be opened: {ex.Message}", ex);
        }
    }

    /// <summary>Serves one request; returns the number of bytes written into the chain (data + status).</summary>
    // Hot path, once per request: no tier-0 code (see VirtioBlockDevice remarks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private uint Serve(DescriptorChain chain, Virtqueue queue, GuestMemory memory, bool failIo)
    {
        Span<byte> header = stackalloc byte[HeaderLength];
        if (chain.WritableLength < 1 || chain.Read(memory, 0, header) != HeaderLength)
        {
            queue.ReportGuestError("virtio-blk request without a header or a status byte");
            return 0;
        }

        var type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        var sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        var statusOffset = chain.WritableLength - 1;
        uint written = 0;
        byte status;
        try
        {
            if (failIo && type is RequestIn or RequestOut or RequestFlush or RequestDiscard or RequestWriteZeroes)
            {
                throw new IOException("injected I/O error");
            }

            switch (type)
            {
                case RequestIn:
                    status = ReadSectors(chain, memory, sector, statusOffset, out written);
                    break;
                case RequestOut:
                    status = ReadOnly ? StatusIoError : WriteSectors(chain, memory, sector, chain.ReadableLength - HeaderLength);
                    break;
                case RequestFlush:
                    if (!ReadOnly)
                    {
                        _file.Flush(flushToDisk: true);
                    }

                    status = StatusOk;
                    break;
                case RequestDiscard or RequestWriteZeroes:
                    status = ReadOnly ? StatusIoError : ServeRanges(chain, queue, memory, type == RequestDiscard);
                    break;
                case RequestGetId:
                    written = (uint)chain.Write(memory, 0, _serial.AsSpan(0, (int)Math.Min((ulong)IdLength, statusOffset)));
                    status = StatusOk;
                    break;
                default:
                    status = StatusUnsupported;
                    break;
            }
        }
        catch (IOException)
        {
            status = StatusIoError;
            written = 0;
        }
        catch (UnauthorizedAccessException)
        {
            status = StatusIoError;
            written = 0;
        }

        chain.Write(memory, statusOffset, [status]);
        return written + 1;
    }

    /// <summary>
    /// DISCARD or WRITE_ZEROES: the request's data is one or more 16-byte ranges. Status UNSUPP for a flag we do not
    /// know (or unmap on a discard), IOERR for a malformed list, too many ranges, a range too long or off the disk.
    /// Every range is checked before any is served.
    /// </summary>
    private byte ServeRanges(DescriptorChain chain, Virtqueue queue, GuestMemory memory, bool discard)
    {
        var dataLength = chain.ReadableLength - HeaderLength;
        var maxSegments = discard ? MaxDiscardSegments : 1UL;
        if (dataLength == 0 || dataLength % RangeLength != 0 || dataLength / RangeLength > maxSegments)
        {
            queue.ReportGuestError(discard ? "virtio-blk discard with a malformed range list" : "virtio-blk write-zeroes with a malformed range list");
            return StatusIoError;
        }

        var count = (int)(dataLength / RangeLength);
        Span<byte> raw = stackalloc byte[(int)MaxDiscardSegments * RangeLength];
        raw = raw[..(count * RangeLength)];
        if (chain.Read(memory, HeaderLength, raw) != raw.Length)
        {
            queue.ReportGuestError("virtio-blk range list not readable");
            return StatusIoError;
        }

        Span<BlockRange> ranges = stackalloc BlockRange[count];
        for (var i = 0; i < count; i++)
        {
            var range = ranges[i] = BlockRange.Parse(raw.Slice(i * RangeLength, RangeLength));
            if ((range.Flags & ~RangeFlagUnmap) != 0 || (discard && range.Flags != 0))
            {
                return StatusUnsupported;
            }

            if (range.Sectors > MaxRangeSectors || !InRange(range.Sector, (ulong)range.Sectors * SectorSize))
            {
                return StatusIoError;
            }
        }

        foreach (var range in ranges)
        {
            if (range.Sectors == 0)
            {
                continue;
            }

            var offset = (long)(range.Sector * SectorSize);
            var length = (long)range.Sectors * SectorSize;
            if (discard)
            {
                // A hint: where the file system cannot punch holes, nothing is freed and the data stays.
                FileSpace.TryPunchHole(_handle, offset, length);
            }
            else
            {
                ZeroRange(offset, length, unmap: (range.Flags & RangeFlagUnmap) != 0);
            }
        }

        return StatusOk;
    }

    /// <summary>One discard / write-zeroes range as the guest wrote it (struct virtio_blk_discard_write_zeroes).</summary>
    private readonly record struct BlockRange(ulong Sector, uint Sectors, uint Flags)
    {
        public static BlockRange Parse(ReadOnlySpan<byte> raw) => new(
            BinaryPrimitives.ReadUInt64LittleEndian(raw),
            BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(raw[12..]));
    }

    /// <summary>Makes [offset, offset + length) of the image read as zeroes, by the cheapest means the host has.</summary>
    private void ZeroRange(long offset, long length, bool unmap)
    {
        if (unmap && FileSpace.TryPunchHole(_handle, offset, length))
        {
            return;
        }

        if (FileSpace.TryZeroRange(_handle, offset, length))
        {
            return;
        }

        // tmpfs has no ZERO_RANGE: a hole, then the range allocated again, is the same to the guest.
        if (FileSpace.TryPunchHole(_handle, offset, length))
        {
            FileSpace.TryAllocate(_handle, offset, length);
            return;
        }

        for (var done = 0L; done < length; done += ZeroBlock.Length)
        {
            RandomAccess.Write(_handle, ZeroBlock.AsSpan(0, (int)Math.Min(ZeroBlock.Length, length - done)), offset + done);
        }
    }

    private bool InRange(ulong sector, ulong length) =>
        length % SectorSize == 0 && sector <= CapacitySectors && length / SectorSize <= CapacitySectors - sector;

    // Hot path, once per request: no tier-0 code (see VirtioBlockDevice remarks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private byte ReadSectors(DescriptorChain chain, GuestMemory memory, ulong sector, ulong length, out uint written)
    {
        written = 0;
        if (!InRange(sector, length))
        {
            return StatusIoError;
        }

        if (!Gather(chain, memory, writable: true, 0, length))
        {
            return StatusIoError;
        }

        // Straight from the image into guest RAM (preadv over the data buffers): no bounce buffer, no second copy.
        var index = 0;
        var skip = 0;
        var fileOffset = (long)(sector * SectorSize);
        while (index < _segments.Count)
        {
            IReadOnlyList<Memory<byte>> batch = _segments;
            if (index != 0 || skip != 0 || _segments.Count > MaxVectors)
            {
                _readBatch.Clear();
                for (var i = index; i < _segments.Count && _readBatch.Count < MaxVectors; i++)
                {
                    _readBatch.Add(i == index ? _segments[i][skip..] : _segments[i]);
                }

                batch = _readBatch;
            }

            var n = RandomAccess.Read(_handle, batch, fileOffset);
            if (n == 0)
            {
                throw new IOException("disk image shrank under the device");
            }

            fileOffset += n;
            Advance(ref index, ref skip, n);
        }

        written = (uint)length;
        return StatusOk;
    }

    // Hot path, once per request: no tier-0 code (see VirtioBlockDevice remarks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private byte WriteSectors(DescriptorChain chain, GuestMemory memory, ulong sector, ulong length)
    {
        if (!InRange(sector, length))
        {
            return StatusIoError;
        }

        if (!Gather(chain, memory, writable: false, HeaderLength, length))
        {
            return StatusIoError;
        }

        // Straight from guest RAM into the image (pwritev, which writes everything or throws).
        var fileOffset = (long)(sector * SectorSize);
        for (var index = 0; index < _segments.Count; index += MaxVectors)
        {
            _writeBatch.Clear();
            var batchLength = 0L;
            for (var i = index; i < _segments.Count && i < index + MaxVectors; i++)
            {
                _writeBatch.Add(_segments[i]);
                batchLength += _segments[i].Length;
            }

            RandomAccess.Write(_handle, _writeBatch, fileOffset);
            fileOffset += batchLength;
        }

        return StatusOk;
    }

    /// <summary>
    /// Fills <see cref="_segments"/> with views of guest RAM covering bytes [offset, offset + length) of the chain's
    /// readable (<paramref name="writable"/> false) or writable part, split where a buffer crosses a RAM region (or
    /// window) boundary and merged where consecutive buffers are adjacent in guest RAM. False when that part is
    /// shorter than asked (or, defensively, a buffer is not in guest RAM). The views are slices of per-region windows
    /// (<see cref="WindowOf"/>), so a request allocates nothing per buffer.
    /// </summary>
    // Hot path, once per request: no tier-0 code (see VirtioBlockDevice remarks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Gather(DescriptorChain chain, GuestMemory memory, bool writable, ulong offset, ulong length)
    {
        _segments.Clear();
        var descriptors = chain.Descriptors;
        var first = writable ? chain.ReadableCount : 0;
        var last = writable ? descriptors.Count : chain.ReadableCount;
        Memory<byte> lastWindow = default;
        var lastEnd = -1;
        for (var i = first; i < last && length > 0; i++)
        {
            var d = descriptors[i];
            if (offset >= d.Length)
            {
                offset -= d.Length;
                continue;
            }

            var address = d.Address.Value + offset;
            var take = Math.Min(length, d.Length - offset);
            length -= take;
            offset = 0;
            while (take > 0)
            {
                if (!WindowOf(memory, address, out var window, out var at))
                {
                    return false;
                }

                var piece = (int)Math.Min(take, (ulong)(window.Length - at));
                if (at == lastEnd && window.Equals(lastWindow))
                {
                    // Adjacent to the previous buffer in the same window: one longer segment.
                    var previous = _segments[^1];
                    _segments[^1] = window.Slice(at - previous.Length, previous.Length + piece);
                }
                else
                {
                    _segments.Add(window.Slice(at, piece));
                }

                lastWindow = window;
                lastEnd = at + piece;
                address += (ulong)piece;
                take -= (ulong)piece;
            }
        }

        return length == 0;
    }

    /// <summary>Window size: regions are viewed as Memory&lt;byte&gt; windows of at most this many bytes.</summary>
    private const int WindowSize = 1 << 30;

    private GuestMemory? _windowsOf;
    private (GuestMemoryRegion Region, Memory<byte>[] Windows)[] _windows = [];

    /// <summary>
    /// The window of guest RAM holding <paramref name="address"/> and the address's offset in it; false when the
    /// address is not in guest RAM. Windows are made once per region (aligned <see cref="WindowSize"/> slices of it,
    /// bounds-checked by <see cref="GuestMemory.GetMemory"/>) and sliced per request.
    /// </summary>
    // Hot path, once per buffer: no tier-0 code (see VirtioBlockDevice remarks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool WindowOf(GuestMemory memory, ulong address, out Memory<byte> window, out int at)
    {
        window = default;
        at = 0;
        if (!ReferenceEquals(memory, _windowsOf))
        {
            _windows = memory.Regions.Select(r => (r, new Memory<byte>[(int)((r.Size + WindowSize - 1) / WindowSize)])).ToArray();
            _windowsOf = memory;
        }

        foreach (var (region, windows) in _windows)
        {
            var start = region.Start.Value;
            if (address < start || address - start >= region.Size)
            {
                continue;
            }

            var inRegion = address - start;
            var k = (int)(inRegion / WindowSize);
            if (windows[k].IsEmpty)
            {
                var windowStart = (ulong)k * WindowSize;
                windows[k] = memory.GetMemory(new GuestAddress(start + windowStart), (int)Math.Min(WindowSize, region.Size - windowStart));
            }

            window = windows[k];
            at = (int)(inRegion % WindowSize);
            return true;
        }

        return false;
    }

    /// <summary>Moves (index, skip) past <paramref name="count"/> bytes of <see cref="_segments"/>.</summary>
    // Hot path, once per request: no tier-0 code (see VirtioBlockDevice remarks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Advance(ref int index, ref int skip, long count)
    {
        while (count > 0 && index < _segments.Count)
        {
            var left = _segments[index].Length - skip;
            if (count >= left)
            {
                count -= left;
                index++;
                skip = 0;
            }
            else
            {
                skip += (int)count;
                count = 0;
            }
        }
    }
}

using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// virtio-blk (device id 2) over a raw image file (<see cref="DiskImage"/>): one request queue, IN / OUT / FLUSH /
/// GET_ID. Out-of-range sectors, partial sectors and host I/O failures complete with VIRTIO_BLK_S_IOERR; other
/// request types with VIRTIO_BLK_S_UNSUPP. Read-only images advertise VIRTIO_BLK_F_RO and fail writes with IOERR.
/// Writable images also take DISCARD (a hole punched in the image; a no-op where the host file system cannot) and
/// WRITE_ZEROES (a hole when the guest allows unmapping, else a zeroed range), as QEMU's virtio-blk does.
/// </summary>
public sealed class VirtioBlockDevice : IVirtioDevice, IDisposable
{
    public const int SectorSize = DiskImage.SectorSize;
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
    public const int RangeLength = VirtioBlockRange.Length;

    public const byte StatusOk = 0;
    public const byte StatusIoError = 1;
    public const byte StatusUnsupported = 2;

    /// <summary>Length of the GET_ID serial.</summary>
    public const int IdLength = 20;

    private const int HeaderLength = 16;
    private const int ConfigLength = 0x3C;

    private readonly DiskImage _image;
    private readonly GuestBufferViews _buffers = new();
    private readonly byte[] _serial = new byte[IdLength];
    private readonly uint _sizeMax;

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

        _image = new DiskImage(path, readOnly);
        Path = path;
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

    public bool ReadOnly => _image.ReadOnly;

    /// <summary>Size in 512-byte sectors.</summary>
    public ulong CapacitySectors => _image.CapacitySectors;

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

    /// <summary>A request whose serving threw twice: VIRTIO_BLK_S_IOERR in its status byte.</summary>
    public uint FailRequest(DescriptorChain chain, GuestMemory memory)
    {
        if (chain.WritableLength < 1)
        {
            return 0;
        }

        return chain.Write(memory, chain.WritableLength - 1, [StatusIoError]) == 1 ? 1u : 0u;
    }

    public void Reset()
    {
    }

    public object? SaveDeviceState() => null;

    public void RestoreDeviceState(object? state)
    {
    }

    public void Dispose() => _image.Dispose();

    /// <summary>Serves one request; returns the number of bytes written into the chain (data + status).</summary>
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
                    _image.Flush();
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

        Span<VirtioBlockRange> ranges = stackalloc VirtioBlockRange[count];
        for (var i = 0; i < count; i++)
        {
            var range = ranges[i] = VirtioBlockRange.Parse(raw.Slice(i * RangeLength, RangeLength));
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
                _image.Discard(offset, length);
            }
            else
            {
                _image.ZeroRange(offset, length, unmap: (range.Flags & RangeFlagUnmap) != 0);
            }
        }

        return StatusOk;
    }

    private bool InRange(ulong sector, ulong length) =>
        length % SectorSize == 0 && sector <= CapacitySectors && length / SectorSize <= CapacitySectors - sector;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private byte ReadSectors(DescriptorChain chain, GuestMemory memory, ulong sector, ulong length, out uint written)
    {
        written = 0;
        if (!InRange(sector, length) || !_buffers.Gather(chain, memory, writable: true, 0, length))
        {
            return StatusIoError;
        }

        _image.Read(_buffers.Segments, (long)(sector * SectorSize));
        written = (uint)length;
        return StatusOk;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private byte WriteSectors(DescriptorChain chain, GuestMemory memory, ulong sector, ulong length)
    {
        if (!InRange(sector, length) || !_buffers.Gather(chain, memory, writable: false, HeaderLength, length))
        {
            return StatusIoError;
        }

        _image.Write(_buffers.Segments, (long)(sector * SectorSize));
        return StatusOk;
    }
}

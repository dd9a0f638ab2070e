//! Plain numbers in bulk: written as little-endian bytes, read straight into the value's
//! own allocation. Shared by the codecs that store numbers raw (`raw.rs`, `ndarray.rs`,
//! `image.rs`).
//!
//! Reads go in chunks of [`CHUNK`] bytes, so that the entry checksum, computed as the
//! bytes pass by, hashes each chunk while it is still in the CPU cache. Large buffers
//! are allocated zeroed (fresh pages from the operating system, not written by us) and,
//! on Linux, advised to use transparent huge pages, which makes faulting them in about
//! as cheap as the copy itself.

use std::io::{Read, Write};

use super::CodecError;

/// Bytes read per call when filling a large buffer.
pub(crate) const CHUNK: usize = 256 << 10;

/// Buffers from this size are advised to use huge pages.
const HUGE_PAGE_FROM: usize = 4 << 20;

/// A zeroed vector of `count` numbers, allocated without trusting `count` for an
/// allocation that cannot be served.
pub(crate) fn zeroed_vec<N: bytemuck::Zeroable + Clone>(
    count: usize,
) -> Result<Vec<N>, CodecError> {
    let bytes = count
        .checked_mul(std::mem::size_of::<N>())
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| CodecError::new(format!("{count} elements do not fit in memory")))?;
    // Probe a large allocation first: `vec!` would abort the process if it failed.
    // Small buffers skip the probe (an allocation and a free on every small read).
    if bytes >= HUGE_PAGE_FROM {
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(bytes).map_err(|_| {
            CodecError::new(format!("cannot allocate {bytes} bytes to decode the entry"))
        })?;
    }
    // `vec![zero; n]` of a number type asks the allocator for zeroed memory, which for
    // large sizes is fresh pages that nothing has touched yet.
    let v = vec![N::zeroed(); count];
    advise_huge_pages(v.as_ptr().cast::<u8>(), bytes);
    Ok(v)
}

/// Asks the kernel to back `len` bytes at `ptr` with transparent huge pages.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise_huge_pages(ptr: *const u8, len: usize) {
    const HUGE: usize = 2 << 20;
    if len < HUGE_PAGE_FROM {
        return;
    }
    let start = (ptr as usize).div_ceil(HUGE) * HUGE;
    let end = (ptr as usize + len) / HUGE * HUGE;
    if end > start {
        // SAFETY: [start, end) lies inside an allocation this process owns (`ptr..ptr+len`
        // rounded inwards to huge-page boundaries). MADV_HUGEPAGE is advice about how to
        // back the pages; it never changes their contents or who owns them.
        let result =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        if result != 0 {
            tracing::trace!("madvise(MADV_HUGEPAGE) declined; reading with small pages");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_ptr: *const u8, _len: usize) {}

/// Fills `bytes` from `input` in [`CHUNK`]-sized reads.
pub(crate) fn read_chunked<R: Read>(input: &mut R, bytes: &mut [u8]) -> std::io::Result<()> {
    for chunk in bytes.chunks_mut(CHUNK) {
        input.read_exact(chunk)?;
    }
    Ok(())
}

/// Reads `count` numbers stored little-endian into a new vector.
pub(crate) fn read_vec<N: bytemuck::Pod, R: Read>(
    input: &mut R,
    count: usize,
) -> Result<Vec<N>, CodecError> {
    let mut v = zeroed_vec::<N>(count)?;
    read_chunked(input, bytemuck::cast_slice_mut(&mut v))?;
    from_little_endian(bytemuck::cast_slice_mut(&mut v), std::mem::size_of::<N>());
    Ok(v)
}

/// Writes numbers as little-endian bytes.
#[cfg(any(feature = "ndarray", feature = "image"))]
pub(crate) fn write_slice<N: bytemuck::Pod, W: Write>(
    items: &[N],
    out: &mut W,
) -> std::io::Result<()> {
    write_le_bytes(bytemuck::cast_slice(items), std::mem::size_of::<N>(), out)
}

/// Writes the bytes of native-order numbers of `size` bytes each, as little-endian.
pub(crate) fn write_le_bytes<W: Write>(
    bytes: &[u8],
    size: usize,
    out: &mut W,
) -> std::io::Result<()> {
    if cfg!(target_endian = "big") && size > 1 {
        for chunk in bytes.chunks(CHUNK / size * size) {
            let mut swapped = chunk.to_vec();
            from_little_endian(&mut swapped, size);
            out.write_all(&swapped)?;
        }
        Ok(())
    } else {
        out.write_all(bytes)
    }
}

/// Turns little-endian element bytes into native order (a no-op on little-endian targets).
#[inline]
pub(crate) fn from_little_endian(bytes: &mut [u8], size: usize) {
    if cfg!(target_endian = "big") && size > 1 {
        for element in bytes.chunks_exact_mut(size) {
            element.reverse();
        }
    }
}

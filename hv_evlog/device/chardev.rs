// SPDX-License-Identifier: GPL-2.0

//! A misc character device whose file operations come from a Rust trait.
//!
//! # Why not `kernel::miscdevice`
//!
//! 7.2's [`kernel::miscdevice::MiscDevice`] offers open, release, mmap,
//! read_iter, write_iter, ioctl, compat_ioctl and show_fdinfo. /dev/hv_evlog
//! also needs `poll` (a consumer waits for completed buffers with
//! poll/epoll), which that trait has no hook for, and its `file_operations`
//! leave `owner` unset, so an open file (or a mapping, which holds the file)
//! would not pin the module. This file is the narrow replacement: one
//! `file_operations` table per implementation of [`Operations`], with
//! `owner = THIS_MODULE`, registered with `misc_register()` by a pinned
//! [`Registration`] that deregisters when dropped.
//!
//! # What the table guarantees
//!
//! - `misc_open()` takes a reference on the module (`fops_get()` of a table
//!   whose owner is this module) and `__fput()` drops it when the file is
//!   finally released, which is after the last `close()` *and* the last
//!   `munmap()` of a mapping of the file. So the module cannot be removed
//!   while a file or a mapping of it exists.
//! - The file is a stream ([`stream_open`](srctree/fs/open.c)): `read()`
//!   ignores the file position, `lseek()`/`pread()` fail with `ESPIPE`.
//! - [`Operations::open`]'s result becomes the file's private data; every
//!   other operation borrows it, and [`Operations::release`] gets it back.
//!
//! # File references
//!
//! `File`'s invariant asks that an `fdget_pos()` region active on the file
//! took `f_pos_lock`. Character devices never get `FMODE_ATOMIC_POS`, so
//! `fdget_pos()` never takes that lock for them; but the lock only guards
//! `f_pos`, and these files are streams whose `f_pos` no operation uses. The
//! trampolines below rely on this when they hand out a `&File`; `read()`,
//! which does run inside `fdget_pos()` on the current thread, gets a
//! [`LocalFile`] instead.

use core::{ffi::c_void, marker::PhantomData, ops::Range};

use kernel::{
    bindings,
    error::to_result,
    ffi::{c_char, c_int, c_long, c_uint, c_ulong},
    fs::{File, LocalFile},
    mm::virt::VmaNew,
    prelude::*,
    sync::{poll::PollTable, Arc, ArcBorrow},
    types::{ForeignOwnable, Opaque},
    uaccess::{UserPtr, UserSlice, UserSliceWriter},
};

/// The file operations of one open file, one method per hook.
///
/// The open file's state is `Self`, shared by reference counting: each
/// operation borrows it, [`Operations::release`] receives the last handle the
/// file had.
pub(crate) trait Operations: Send + Sync + Sized + 'static {
    /// What the registration hands to every [`Operations::open`].
    type Shared: Send + Sync;

    /// `open()`: builds the state of a new open file.
    fn open(shared: &Self::Shared, file: &File) -> Result<Arc<Self>>;

    /// The file's final `fput()`: after the last `close()` and `munmap()`.
    fn release(this: Arc<Self>, file: &File);

    /// `read()`: writes at most `out.len()` bytes to `out`, returns how many.
    fn read(
        this: ArcBorrow<'_, Self>,
        file: &LocalFile,
        out: &mut UserSliceWriter,
    ) -> Result<usize>;

    /// `poll()`: registers with `table` and returns the ready events
    /// (`POLLIN`, …).
    fn poll(this: ArcBorrow<'_, Self>, file: &File, table: PollTable<'_>) -> u32;

    /// `mmap()`: checks and sets up `vma`, which is being created. No page
    /// need be mapped here: a mapping whose `vm_operations_struct` has
    /// [`fault`]`::<Self>` as its `fault` hook gets each page mapped on first
    /// access, the frame [`Operations::fault`] names; such a mapping must be
    /// made `VM_PFNMAP` here ([`set_pfnmap`]).
    fn mmap(this: ArcBorrow<'_, Self>, file: &File, vma: &VmaNew) -> Result;

    /// A page fault in one of the file's mappings, for pages `pages` of
    /// the file (in pages from offset 0): one aligned block of
    /// [`Operations::fault_block`] pages, clipped to the mapping. Calls
    /// `insert(pgoff, pfn)` for each page of them that may be mapped now,
    /// while holding whatever keeps that frame from being taken away, so
    /// that the PTE `insert` makes cannot outlive it (the implementor zaps
    /// PTEs only after taking a frame away under the same hold). A page
    /// `insert` is not called for is not mapped; the faulting one then gets
    /// `SIGBUS`. Runs under the mmap (or per-VMA) read lock, so it must not
    /// sleep for long.
    fn fault(this: ArcBorrow<'_, Self>, pages: Range<usize>, insert: &mut dyn FnMut(usize, u64));

    /// Pages a fault maps together: every page of the aligned block of
    /// this many pages (of the file) that holds the faulting one, as far as
    /// the mapping reaches. At least 1.
    fn fault_block(this: ArcBorrow<'_, Self>) -> usize;

    /// `ioctl()`: `arg` is the raw argument (usually a user pointer).
    fn ioctl(this: ArcBorrow<'_, Self>, file: &File, cmd: u32, arg: usize) -> Result<isize>;
}

/// A registered misc device whose files are run by `T`.
///
/// # Invariants
///
/// `misc` holds a `struct miscdevice` registered with `misc_register()`,
/// whose `fops` is `Vtable::<T>::FOPS`; it is deregistered exactly once, when
/// `self` is dropped. `shared` is initialized before the registration and
/// dropped after the deregistration, so every `open()` can borrow it.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T: Operations> {
    shared: T::Shared,
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    _ops: PhantomData<T>,
}

// SAFETY: `misc_deregister()` may be called from any thread, and `shared` is
// `Send`.
unsafe impl<T: Operations> Send for Registration<T> {}

// SAFETY: Shared references only give out `&T::Shared`, which is `Sync`; the
// `miscdevice` is only touched by the misc core, under its own lock.
unsafe impl<T: Operations> Sync for Registration<T> {}

impl<T: Operations> Registration<T> {
    /// Registers `/dev/<name>` with permissions `mode` (owner root, group
    /// root) and a dynamic minor. Files opened on it share `shared`.
    pub(crate) fn register(
        name: &'static CStr,
        mode: u16,
        shared: T::Shared,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // Initialized first: the device can be opened as soon as
            // `misc_register()` returns.
            shared,
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = bindings::MISC_DYNAMIC_MINOR as c_int;
                misc.name = name.as_char_ptr();
                misc.fops = &Vtable::<T>::FOPS;
                misc.mode = mode;
                // SAFETY: `slot` is valid for writing a `miscdevice`, which
                // is what the initializer is for.
                unsafe { slot.write(misc) };
                // SAFETY: `slot` holds an initialized `miscdevice` with a
                // dynamic minor, a `'static` name and a `'static` fops table
                // (in this module, which every open file pins). It is pinned, and `Registration`'s drop deregisters
                // it before the memory goes away (type invariant). On error
                // nothing stays registered.
                to_result(unsafe { bindings::misc_register(slot) })
            }),
            _ops: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T: Operations> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The device is registered (type invariant) and this is the
        // one place that deregisters it. Afterwards no new `open()` can find
        // it; files already open hold their own state (`Arc<T>`), not a
        // reference to `self`.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

/// Marks `vma`, being set up by [`Operations::mmap`], as a PFN mapping
/// (`VM_PFNMAP`): its PTEs are special, with no `struct page` reference
/// behind them, so get_user_pages() refuses the range and nothing can pin
/// a page beyond the mapping's life. 7.2's `VmaNew` has setters for
/// `VM_IO` and others but not this flag.
pub(crate) fn set_pfnmap(vma: &VmaNew) {
    let raw = vma.as_ptr();
    // SAFETY: `vma` is being set up by the current `mmap()` call (`VmaNew`):
    // no other thread can see it yet, so its flags may be written directly,
    // as `VmaNew`'s own setters do.
    unsafe { (*raw).__bindgen_anon_2.vm_flags |= bindings::VM_PFNMAP as bindings::vm_flags_t };
}

/// The `file_operations` of `T`'s files.
struct Vtable<T>(PhantomData<T>);

impl<T: Operations> Vtable<T> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        owner: crate::THIS_MODULE.as_ptr(),
        open: Some(Self::open),
        release: Some(Self::release),
        read: Some(Self::read),
        poll: Some(Self::poll),
        mmap: Some(Self::mmap),
        unlocked_ioctl: Some(Self::ioctl),
        // Every argument struct has the same layout for 32-bit callers, and
        // user pointers inside them are `__u64`.
        compat_ioctl: bindings::compat_ptr_ioctl,
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// Called by `misc_open()` only: `inode` and `file` are the file being
    /// opened on a device registered by `Registration<T>`, and the file's
    /// private data points at its `miscdevice`.
    unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `file` is being opened on `inode`: making it a stream is
        // allowed before the file is used.
        let ret = unsafe { bindings::stream_open(inode, file) };
        if ret != 0 {
            return ret;
        }
        // SAFETY: `misc_open()` stored a pointer to the `miscdevice` in the
        // private data before calling this hook, and nothing else uses the
        // private data of a file being opened.
        let misc = unsafe { (*file).private_data }.cast::<Opaque<bindings::miscdevice>>();
        // SAFETY: That `miscdevice` is the `misc` field of a
        // `Registration<T>` (only `Registration::register` registers this
        // table), so stepping back to the container stays in the allocation.
        let reg = unsafe { kernel::container_of!(misc, Registration<T>, misc) };
        // SAFETY: `misc_open()` holds `misc_mtx`, which `misc_deregister()`
        // also takes, so the registration cannot be dropped during this call.
        let shared = unsafe { &(*reg).shared };
        // SAFETY: `file` is valid for this call; see the module
        // documentation on file references.
        let file_ref = unsafe { File::from_raw_file(file) };
        match T::open(shared, file_ref) {
            Ok(this) => {
                // SAFETY: From here on the private data is ours: the other
                // hooks below read it back as an `Arc<T>`.
                unsafe { (*file).private_data = this.into_foreign() };
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by `__fput()` only, once per file that `open` succeeded on.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `open` stored `Arc::into_foreign()` in the private data;
        // release is the last operation on the file, so taking ownership back
        // here ends every borrow.
        let this = unsafe { Arc::<T>::from_foreign((*file).private_data) };
        // SAFETY: `file` is valid for this call; see the module
        // documentation on file references.
        T::release(this, unsafe { File::from_raw_file(file) });
        0
    }

    /// Borrows the state `open` stored in `file`.
    ///
    /// # Safety
    ///
    /// `file` is a file of this table that `open` succeeded on, and the
    /// borrow ends before the file is released.
    unsafe fn state<'a>(file: *mut bindings::file) -> ArcBorrow<'a, T> {
        // SAFETY: The private data is `Arc::into_foreign()`'s result (set by
        // `open`), and the caller ends the borrow before `release` takes the
        // `Arc` back.
        unsafe { Arc::<T>::borrow((*file).private_data) }
    }

    /// # Safety
    ///
    /// Called by `vfs_read()` only, on an open file of this table, with `buf`
    /// a user pointer to `count` bytes.
    unsafe extern "C" fn read(
        file: *mut bindings::file,
        buf: *mut c_char,
        count: usize,
        _pos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: The file is open and the borrow ends with this call, before
        // release.
        let this = unsafe { Self::state(file) };
        // SAFETY: `file` is valid for this call, and the `fdget_pos()` region
        // of this `read()`, if any, is on the current thread.
        let local = unsafe { LocalFile::from_raw_file(file) };
        let mut out = UserSlice::new(UserPtr::from_ptr(buf.cast::<c_void>()), count).writer();
        match T::read(this, local, &mut out) {
            // At most `count` bytes, and `count` fits `isize` (`vfs_read()`
            // clamps it to `MAX_RW_COUNT`).
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Called by `vfs_poll()` only, on an open file of this table, with a
    /// poll table that is null or valid for this call.
    unsafe extern "C" fn poll(
        file: *mut bindings::file,
        table: *mut bindings::poll_table_struct,
    ) -> bindings::__poll_t {
        // SAFETY: The file is open and the borrow ends with this call.
        let this = unsafe { Self::state(file) };
        // SAFETY: `file` is valid for this call; see the module
        // documentation on file references.
        let file = unsafe { File::from_raw_file(file) };
        // SAFETY: The caller passes a poll table that is null or valid for
        // this call, which is all `PollTable` needs.
        let table = unsafe { PollTable::from_raw(table) };
        T::poll(this, file, table)
    }

    /// # Safety
    ///
    /// Called by `mmap_region()` only, on an open file of this table, with
    /// `vma` a VMA being set up for it.
    unsafe extern "C" fn mmap(
        file: *mut bindings::file,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: The file is open and the borrow ends with this call.
        let this = unsafe { Self::state(file) };
        // SAFETY: `file` is valid for this call; see the module
        // documentation on file references.
        let file = unsafe { File::from_raw_file(file) };
        // SAFETY: The caller hands over a VMA under initial setup, for the
        // duration of this call.
        let vma = unsafe { VmaNew::from_raw(vma) };
        match T::mmap(this, file, vma) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by `vfs_ioctl()` (or `compat_ptr_ioctl()`) only, on an open
    /// file of this table.
    unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: The file is open and the borrow ends with this call.
        let this = unsafe { Self::state(file) };
        // SAFETY: `file` is valid for this call; see the module
        // documentation on file references.
        let file = unsafe { File::from_raw_file(file) };
        match T::ioctl(this, file, cmd, arg) {
            Ok(ret) => ret as c_long,
            Err(e) => e.to_errno() as c_long,
        }
    }
}

/// The `fault` hook for the `vm_operations_struct` that
/// [`Operations::mmap`] installs on `T`'s mappings: maps the page that
/// faulted and the other pages of its [`Operations::fault_block`] inside the
/// mapping, the frames [`Operations::fault`] hands out (fault-around: a
/// buffer read from start to end costs one fault, not one per page, which
/// under emulation dominated reading through the mapping). The work under
/// the implementor's hold stays bounded by one block, however large the
/// mapping. PTEs already present are left as they are (`insert_pfn()`).
///
/// # Safety
///
/// Called by the fault path only, with `vmf` describing a fault in a mapping
/// of a file of `T`'s `Registration` whose `vm_ops` has this hook.
pub(crate) unsafe extern "C" fn fault<T: Operations>(
    vmf: *mut bindings::vm_fault,
) -> bindings::vm_fault_t {
    // SAFETY: `vmf` is valid for this call; these fields are set by the
    // fault path before `->fault` is called and not changed during it.
    let (vma, pgoff) = unsafe {
        let f = &(*vmf).__bindgen_anon_1;
        (f.vma, f.pgoff)
    };
    // SAFETY: The fault path holds the mmap or VMA read lock, under which
    // the VMA's bounds and page offset do not change.
    let (start, end, vma_pgoff) = unsafe {
        let bounds = &(*vma).__bindgen_anon_1.__bindgen_anon_1;
        (bounds.vm_start, bounds.vm_end, (*vma).vm_pgoff)
    };
    // SAFETY: The mapping holds a reference to its file (`vm_file`) for
    // as long as it exists, and the fault path holds the mmap or VMA
    // read lock, so the VMA (and with it the file) outlives this call.
    let file = unsafe { (*vma).vm_file };
    // SAFETY: `file` is an open file of this table (its mapping was
    // set up by `mmap` above) and the borrow ends with this call,
    // before the file's final `fput()` can reach `release`.
    let this = unsafe { Vtable::<T>::state(file) };
    // The faulting page's block, clipped to the mapping's pages.
    let block = T::fault_block(this).max(1);
    let vma_pages = (end - start) >> bindings::PAGE_SHIFT;
    let first = (pgoff - pgoff % block).max(vma_pgoff);
    let last = (pgoff - pgoff % block)
        .saturating_add(block)
        .min(vma_pgoff + vma_pages);
    let mut ret = bindings::vm_fault_reason_VM_FAULT_SIGBUS;
    T::fault(this, first..last, &mut |page, pfn| {
        let Ok(pfn) = c_ulong::try_from(pfn) else {
            return;
        };
        if !(first..last).contains(&page) {
            return;
        }
        let at = start + ((page - vma_pgoff) << bindings::PAGE_SHIFT);
        // SAFETY: `vma` is the faulting VMA: a shared `VM_PFNMAP` mapping
        // (`Operations::mmap` must make it one); `at` lies inside it
        // (`first..last` is within the VMA's pages), and the fault path
        // holds the lock `vmf_insert_pfn()` needs. The PTE is special and
        // read-only (the VMA's own protection, with `VM_WRITE` never set);
        // the implementor of `Operations::fault` holds the frame while this
        // runs and zaps the PTE before the frame goes.
        let r = unsafe { bindings::vmf_insert_pfn(vma, at, pfn) };
        // The faulting page's result is the fault's; a failure of another
        // only leaves that page to fault on its own.
        if page == pgoff {
            ret = r;
        }
    });
    ret
}

//! Network namespaces without switching the process: open one by path, create one, run a
//! closure inside one (the calling thread joins it and comes back), and pin one to a path
//! the way `ip netns add` does.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;

use crate::error::{Error, Result};

fn nix_err(op: &'static str, path: impl Into<PathBuf>, e: nix::errno::Errno) -> Error {
    Error::io(op, path, std::io::Error::from_raw_os_error(e as i32))
}

/// Opens the network namespace at `path` (`/proc/<pid>/ns/net`, `/run/netns/<name>`).
pub fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io("open network namespace", path, e))
}

/// This thread's network namespace.
pub fn current() -> Result<File> {
    open(Path::new("/proc/thread-self/ns/net"))
}

/// Whether two handles refer to the same namespace.
pub fn same(a: &File, b: &File) -> bool {
    match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Runs `f` on a helper thread (namespace changes made there stay there) and returns what
/// it returns; a panic on that thread is an error naming `op`.
fn on_helper_thread<T: Send>(op: &'static str, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(f)
            .join()
            .unwrap_or_else(|_| Err(Error::io(op, "thread", std::io::Error::other("panicked"))))
    })
}

/// Runs `f` with the calling thread in `netns`, then puts the thread back in the namespace
/// it was in (also when `f` panics). Errors from joining or returning are returned; `f`'s
/// own result is passed through. Only this thread moves: other threads of the process
/// stay where they are.
///
/// This is done on the calling thread, not on a helper thread, on purpose: a thread that
/// exits queues an RCU callback (freeing its task), and the kernel's next netns move of a
/// link waits in `rcu_barrier()` for every queued callback, that is for a full RCU grace
/// period (tens of milliseconds). A CNI plugin that hops into the pod namespace on a
/// helper thread right before moving the VF pays that wait on every ADD and DEL.
pub fn run_in<T>(netns: &File, f: impl FnOnce() -> T) -> Result<T> {
    let home = current()?;
    if same(&home, netns) {
        return Ok(f());
    }
    nix::sched::setns(netns.as_fd(), CloneFlags::CLONE_NEWNET)
        .map_err(|e| nix_err("join network namespace", "setns", e))?;
    let guard = ReturnHome(Some(home));
    let out = f();
    guard.finish()?;
    Ok(out)
}

/// Puts the thread back into its namespace; on drop (a panic in the closure) a failure to
/// return aborts the process, since a thread left in a pod's namespace would configure
/// the wrong network.
struct ReturnHome(Option<File>);

impl ReturnHome {
    fn finish(mut self) -> Result<()> {
        match self.0.take() {
            Some(home) => nix::sched::setns(home.as_fd(), CloneFlags::CLONE_NEWNET)
                .map_err(|e| nix_err("return to network namespace", "setns", e)),
            None => Ok(()),
        }
    }
}

impl Drop for ReturnHome {
    fn drop(&mut self) {
        if let Some(home) = self.0.take()
            && nix::sched::setns(home.as_fd(), CloneFlags::CLONE_NEWNET).is_err()
        {
            std::process::abort();
        }
    }
}

/// Moves the calling (helper) thread into a new, empty network namespace.
fn unshare_net() -> Result<()> {
    nix::sched::unshare(CloneFlags::CLONE_NEWNET)
        .map_err(|e| nix_err("create network namespace", "unshare", e))
}

/// A new, empty network namespace, alive as long as the returned handle (or anything
/// inside it) is.
pub fn create() -> Result<File> {
    on_helper_thread("create network namespace", || {
        unshare_net()?;
        current()
    })
}

/// A network namespace pinned to a file by a bind mount, as `ip netns add` does: it lives
/// until [`NamedNetns::delete`], whoever holds it.
#[derive(Debug)]
pub struct NamedNetns {
    path: PathBuf,
}

impl NamedNetns {
    /// Creates a namespace and pins it at `path` (the file is created).
    pub fn create(path: &Path) -> Result<Self> {
        File::create(path).map_err(|e| Error::io("create", path, e))?;
        let pinned = on_helper_thread("create network namespace", || {
            unshare_net()?;
            nix::mount::mount(
                Some("/proc/thread-self/ns/net"),
                path,
                None::<&str>,
                nix::mount::MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| nix_err("pin network namespace", path, e))
        });
        match pinned {
            Ok(()) => Ok(Self {
                path: path.to_owned(),
            }),
            Err(e) => {
                let _ = std::fs::remove_file(path);
                Err(e)
            }
        }
    }

    /// Where it is pinned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens it.
    pub fn open(&self) -> Result<File> {
        open(&self.path)
    }

    /// Unpins it and removes the file; the namespace ends when nothing else holds it.
    pub fn delete(self) -> Result<()> {
        let path = self.path.clone();
        std::mem::forget(self);
        nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| nix_err("unpin network namespace", &path, e))?;
        std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_file(&self.path);
    }
}

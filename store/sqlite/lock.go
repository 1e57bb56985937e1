package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hindsightsec/hindsight"
)

// lockPoll is how often a waiting LockWriter tries the lock again. flock has no wait with a
// deadline, and a blocking flock cannot be interrupted by a context.
const lockPoll = 200 * time.Millisecond

// LockWriter takes the store's writer lock, so that one ingest at a time writes to it: an
// exclusive flock on the file PATH.lock beside the database, held until unlock is called. The
// kernel releases a flock when its process ends however it ends, so a killed ingest never leaves
// the store locked. The holder (this process's ID, its host and holder, e.g. "run RUN-…") is
// written into the lock file so that a second writer can say who is in its way.
//
// Without wait, a lock held elsewhere is an ECONFLICT error naming the holder, at once. With wait,
// LockWriter tries again every 200ms until it has the lock or ctx is done; then the error is
// ECONFLICT too, wrapping ctx's error. The lock is per open file, so two LockWriter calls
// exclude each other even within one process.
func (db *DB) LockWriter(ctx context.Context, holder string, wait bool) (unlock func(), err error) {
	path := db.path + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open writer lock: %w", err)
	}
	fd := int(f.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("take writer lock %s: %w", path, err)
		}
		if !wait {
			who := lockHolder(f)
			f.Close()
			return nil, &hindsight.Error{Code: hindsight.ECONFLICT, Message: fmt.Sprintf(
				"another ingest is writing to this store: %s holds its writer lock %s", who, path)}
		}
		select {
		case <-ctx.Done():
			who := lockHolder(f)
			f.Close()
			return nil, &hindsight.Error{Code: hindsight.ECONFLICT, Err: ctx.Err(), Message: fmt.Sprintf(
				"gave up waiting for the writer lock %s, still held by %s", path, who)}
		case <-time.After(lockPoll):
		}
	}
	host, _ := os.Hostname()
	// The content only informs the next writer; the flock alone decides who holds the lock, so a
	// failed write is no reason to give the lock up.
	f.Truncate(0)
	f.WriteAt([]byte(fmt.Sprintf("pid %d on %s, %s, since %s\n", os.Getpid(), host, holder, time.Now().UTC().Format(time.RFC3339))), 0)
	var once sync.Once
	return func() {
		once.Do(func() {
			// Emptied before the lock goes, so a stale name is never read as the holder. The file
			// itself stays: removing it while another process waits on it would let that
			// process lock a file that no longer has a name, beside a new writer of a new file.
			f.Truncate(0)
			syscall.Flock(fd, syscall.LOCK_UN)
			f.Close()
		})
	}, nil
}

// lockHolder reads who holds the lock from the lock file.
func lockHolder(f *os.File) string {
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	if s := strings.TrimSpace(string(b[:n])); s != "" {
		return "process " + s
	}
	// The holder has the lock but has not written its name yet, or crashed in between.
	return "another process"
}

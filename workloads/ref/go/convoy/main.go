// Go twin of mix.convoy: one echo connection (the load generator's, accepted on the socket
// the harness hands over, --listen-fd) served by a goroutine beside H hog goroutines that
// compute fib(hog_n) rounds, checking each, until the connection is done or duration_ms has
// passed on their own clock. Go preempts the hogs (asynchronously since 1.14), so the
// server keeps its share of the Ps. As in workloads/mix_convoy.c, the first message is echoed
// before any hog exists: the client's clock starts at that echo, so the hogs (each lasting
// duration_ms from its start) cover the whole measured window. Checksum: bytes echoed plus one per hog whose every
// round was right. One connection per repetition: -rounds is accepted and must be 1.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"../twin"
)

func fib(n int) uint64 {
	if n < 2 {
		return uint64(n)
	}
	return fib(n-1) + fib(n-2)
}

func fibValue(n int) uint64 {
	a, b := uint64(0), uint64(1)
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	return a
}

// echoFirst reads one whole message of size bytes and echoes it; the bytes echoed (fewer
// when the client went away: its report says so).
func echoFirst(c net.Conn, size int64) int64 {
	buf := make([]byte, size)
	n, _ := io.ReadFull(c, buf)
	if n > 0 {
		if _, err := c.Write(buf[:n]); err != nil {
			return 0
		}
	}
	return int64(n)
}

// One repetition; twin.Main runs it once per repetition the harness sends.
func run() {
	hogs := flag.Int("tasks", 1, "hogs")
	size := flag.Int64("size", 64, "message bytes (the first message is echoed before the hogs start)")
	durationMs := flag.Int64("duration_ms", 1000, "how long the client sends")
	hogN := flag.Int("hog_n", 25, "n of each hog round's fib(n)")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	fd := flag.Int("listen-fd", -1, "listening socket inherited from the harness")
	rounds := flag.Int("rounds", 1, "must be 1: the harness's client makes one connection")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)
	if *fd < 0 || *rounds != 1 {
		fmt.Fprintln(os.Stderr, "convoy: --listen-fd is required and --rounds must be 1")
		os.Exit(2)
	}
	lf := os.NewFile(uintptr(*fd), "listen")
	ln, err := net.FileListener(lf)
	lf.Close() // the listener holds its own copy
	if err != nil {
		fmt.Fprintln(os.Stderr, "convoy:", err)
		os.Exit(1)
	}
	c, err := ln.Accept()
	if err != nil {
		fmt.Fprintln(os.Stderr, "convoy: accept:", err)
		os.Exit(1)
	}
	ln.Close() // one connection, as the C workload accepts one
	start := time.Now()
	first := echoFirst(c, *size)
	echoed := make(chan int64)
	go func() {
		n, _ := io.Copy(c, c)
		c.Close()
		echoed <- first + n
	}()
	var stop atomic.Bool
	var good int64
	var wg sync.WaitGroup
	want, limit := fibValue(*hogN), time.Duration(*durationMs)*time.Millisecond
	for i := 0; i < *hogs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0, bad := time.Now(), false
			for { // at least one round, like the C hog's do-while
				bad = bad || fib(*hogN) != want
				if stop.Load() || time.Since(t0) >= limit {
					break
				}
			}
			if !bad {
				atomic.AddInt64(&good, 1)
			}
		}()
	}
	bytes := <-echoed
	stop.Store(true)
	wg.Wait()
	fmt.Printf("workload=mix.convoy wall_ns=%d checksum=%d\n", time.Since(start).Nanoseconds(), uint64(bytes)+uint64(good))
}

func main() { twin.Main(run) }

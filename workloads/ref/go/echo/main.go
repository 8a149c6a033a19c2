// Go twin of io.echo's server: a goroutine per connection copying what it reads back,
// accepting on the listening socket the harness hands over (--listen-fd), driven by
// bench loadgen. Exits after --tasks connections, printing bytes echoed as the checksum.
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
)

func main() {
	conns := flag.Int("tasks", 100, "connections to serve")
	flag.Int64("size", 1024, "message bytes (the client's concern)")
	flag.Int64("msgs", 200, "messages per connection (the client's concern)")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	fd := flag.Int("listen-fd", -1, "listening socket inherited from the harness")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)
	if *fd < 0 {
		fmt.Fprintln(os.Stderr, "echo: --listen-fd is required")
		os.Exit(2)
	}
	ln, err := net.FileListener(os.NewFile(uintptr(*fd), "listen"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var bytes int64
	for i := 0; i < *conns; i++ {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo: accept:", err)
			os.Exit(1)
		}
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			n, _ := io.Copy(c, c)
			atomic.AddInt64(&bytes, n)
			c.Close()
		}(c)
	}
	wg.Wait()
	fmt.Printf("workload=io.echo tasks=%d wall_ns=%d checksum=%d\n", *conns, time.Since(start).Nanoseconds(), bytes)
}

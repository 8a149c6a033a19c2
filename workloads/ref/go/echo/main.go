// Go twin of io.echo's server: a goroutine per connection copying what it reads back,
// accepting on the listening socket the harness hands over (--listen-fd), driven by
// bench loadgen. Exits after --tasks connections, printing bytes echoed as the checksum.
// --tasks 0 (bench serve): serves until SIGINT/SIGTERM, then shuts every connection down,
// waits for their goroutines and prints bytes echoed and connections served.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"../twin"
)

// One repetition; twin.Main runs it once per repetition the harness sends.
func run() {
	conns := flag.Int("tasks", 100, "connections to serve (0: until SIGINT/SIGTERM)")
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
	lf := os.NewFile(uintptr(*fd), "listen")
	ln, err := net.FileListener(lf)
	lf.Close() // the listener holds its own copy
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	if *conns == 0 {
		serve(ln)
		return
	}
	start := time.Now()
	// twin:begin
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
	ln.Close()
	wg.Wait()
	// twin:end
	fmt.Printf("workload=io.echo tasks=%d wall_ns=%d checksum=%d\n", *conns, time.Since(start).Nanoseconds(), bytes)
}

// serve echoes every connection until a signal, then closes the listener and shuts the open
// connections down (each goroutine's read ends), and reports once all of them are done.
func serve(ln net.Listener) {
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	stopped := false
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	fmt.Println("listening") // bench serve waits for this: a signal from now on stops us cleanly
	go func() {
		<-sig
		mu.Lock()
		stopped = true
		for c := range open {
			c.(*net.TCPConn).CloseRead()
		}
		mu.Unlock()
		ln.Close()
	}()
	var wg sync.WaitGroup
	var bytes, served int64
	for {
		c, err := ln.Accept()
		if err != nil {
			break // closed by the signal
		}
		mu.Lock()
		if stopped {
			mu.Unlock()
			c.Close()
			break
		}
		open[c] = true
		served++
		mu.Unlock()
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			n, _ := io.Copy(c, c)
			atomic.AddInt64(&bytes, n)
			mu.Lock()
			delete(open, c)
			mu.Unlock()
			c.Close()
		}(c)
	}
	wg.Wait()
	fmt.Printf("workload=io.echo checksum=%d connections=%d\n", atomic.LoadInt64(&bytes), served)
}

func main() { twin.Main(run) }

// Go twin of io.sleep: N goroutines each sleep d ms at the same time.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	tasks := flag.Int64("tasks", 1000, "sleepers")
	size := flag.Int64("size", 100, "sleep in ms")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)

	start := time.Now()
	var wg sync.WaitGroup
	var sum int64
	d := time.Duration(*size) * time.Millisecond
	for i := int64(0); i < *tasks; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(d)
			atomic.AddInt64(&sum, 1)
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	fmt.Printf("wall_ns=%d ops=%d checksum=%d\n", wall.Nanoseconds(), *tasks, sum)
}

// Go twin of io.sleep: N goroutines each sleep d ms at the same time. With -rounds R the
// whole thing runs R times in this process and the last round is reported: a warm
// runtime, whose dead goroutines and their stacks are reused (mn's later repetitions).
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"../twin"
)

// One repetition; twin.Main runs it once per repetition the harness sends.
func run() {
	tasks := flag.Int64("tasks", 1000, "sleepers")
	size := flag.Int64("size", 100, "sleep in ms")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	rounds := flag.Int("rounds", 1, "rounds in this process; the last is reported")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)

	var wall time.Duration
	var sum int64
	for r := 0; r < *rounds; r++ {
		start := time.Now()
		// twin:begin
		var wg sync.WaitGroup
		sum = 0
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
		// twin:end
		wall = time.Since(start)
	}
	fmt.Printf("wall_ns=%d ops=%d checksum=%d\n", wall.Nanoseconds(), *tasks, sum)
}

func main() { twin.Main(run) }

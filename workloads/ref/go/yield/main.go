// Go twin of micro.yield: T goroutines each call runtime.Gosched n times.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"time"

	"../twin"
)

// One repetition; twin.Main runs it once per repetition the harness sends.
func run() {
	tasks := flag.Int64("tasks", 2, "goroutines")
	size := flag.Int64("size", 100000, "yields per goroutine")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)

	start := time.Now()
	// twin:begin
	var wg sync.WaitGroup
	res := make([]int64, *tasks)
	for t := int64(0); t < *tasks; t++ {
		wg.Add(1)
		go func(t int64) {
			defer wg.Done()
			for i := int64(0); i < *size; i++ {
				runtime.Gosched()
			}
			res[t] = *size
		}(t)
	}
	wg.Wait()
	// twin:end
	wall := time.Since(start)
	// twin:begin
	var sum int64
	for _, r := range res {
		sum += r
	}
	// twin:end
	fmt.Printf("wall_ns=%d ops=%d checksum=%d\n", wall.Nanoseconds(), *tasks**size, sum)
}

func main() { twin.Main(run) }

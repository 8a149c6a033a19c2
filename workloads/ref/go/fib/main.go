// Go twin of cpu.fib: T goroutines each compute recursive fib(n), spawned and joined
// `rounds` times.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"time"

	"../twin"
)

// twin:begin
func fib(n int) uint64 {
	if n < 2 {
		return uint64(n)
	}
	return fib(n-1) + fib(n-2)
}

// twin:end

// One repetition; twin.Main runs it once per repetition the harness sends.
func run() {
	tasks := flag.Int64("tasks", 8, "goroutines")
	size := flag.Int("size", 30, "n of fib(n)")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	rounds := flag.Int64("rounds", 1, "times the goroutines are spawned and joined")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)

	start := time.Now()
	// twin:begin
	var sum uint64
	res := make([]uint64, *tasks)
	for r := int64(0); r < *rounds; r++ {
		var wg sync.WaitGroup
		for t := int64(0); t < *tasks; t++ {
			wg.Add(1)
			go func(t int64) {
				defer wg.Done()
				res[t] = fib(*size)
			}(t)
		}
		wg.Wait()
		for _, v := range res {
			sum += v
		}
	}
	// twin:end
	wall := time.Since(start)
	fmt.Printf("wall_ns=%d ops=%d checksum=%d\n", wall.Nanoseconds(), *tasks**rounds, sum)
}

func main() { twin.Main(run) }

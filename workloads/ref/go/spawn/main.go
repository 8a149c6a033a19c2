// Go twin of micro.spawn: N goroutines in batches of B, each `go` + WaitGroup.
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
	tasks := flag.Int64("tasks", 100000, "goroutines")
	size := flag.Int64("size", 100, "batch: goroutines started before waiting for them")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)

	start := time.Now()
	// twin:begin
	res := make([]uint64, *size)
	var sum uint64
	var wg sync.WaitGroup
	for done := int64(0); done < *tasks; done += *size {
		k := *tasks - done
		if k > *size {
			k = *size
		}
		wg.Add(int(k))
		for i := int64(0); i < k; i++ {
			go func(i int64, v uint64) {
				res[i] = v + 1
				wg.Done()
			}(i, uint64(done+i))
		}
		wg.Wait()
		for i := int64(0); i < k; i++ {
			sum += res[i]
		}
	}
	// twin:end
	wall := time.Since(start)
	fmt.Printf("wall_ns=%d ops=%d checksum=%d\n", wall.Nanoseconds(), *tasks, sum)
}

func main() { twin.Main(run) }

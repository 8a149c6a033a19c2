// Go twin of mix.latency: H CPU hogs (rounds x fib(n)) beside a probe that sleeps period
// and records how late it wakes: Go's async preemption at work.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
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
	tasks := flag.Int64("tasks", 1, "hogs")
	size := flag.Int("size", 27, "n of each hog's fib(n)")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	rounds := flag.Int64("rounds", 40, "fib(n) computations per hog")
	periodUs := flag.Int64("period_us", 1000, "probe's sleep between wakes, us")
	minMs := flag.Int64("min_ms", 100, "the probe runs at least this long")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)

	// twin:begin
	start := time.Now()
	period := time.Duration(*periodUs) * time.Microsecond
	stop := make(chan struct{})
	report := make(chan []int64, 1)
	go func() {
		var lates []int64
		for {
			t0 := time.Now()
			time.Sleep(period)
			late := time.Since(t0) - period
			if late < 0 {
				late = 0
			}
			lates = append(lates, int64(late))
			select {
			case <-stop:
				report <- lates
				return
			default:
			}
		}
	}()
	res := make([]uint64, *tasks)
	var wg sync.WaitGroup
	for h := int64(0); h < *tasks; h++ {
		wg.Add(1)
		go func(h int64) {
			defer wg.Done()
			var s uint64
			for i := int64(0); i < *rounds; i++ {
				s += fib(*size)
			}
			res[h] = s
		}(h)
	}
	wg.Wait()
	if ran, min := time.Since(start), time.Duration(*minMs)*time.Millisecond; ran < min {
		time.Sleep(min - ran)
	}
	close(stop)
	lates := <-report
	// twin:end
	wall := time.Since(start)
	sort.Slice(lates, func(i, j int) bool { return lates[i] < lates[j] })
	q := func(f float64) int64 { return lates[int(f*float64(len(lates)-1))] }
	// twin:begin
	var sum uint64
	for _, r := range res {
		sum += r
	}
	// twin:end
	fmt.Printf("wall_ns=%d ops=%d checksum=%d p50_ns=%d p99_ns=%d max_ns=%d\n", wall.Nanoseconds(),
		len(lates), sum, q(0.5), q(0.99), lates[len(lates)-1])
}

func main() { twin.Main(run) }

// Go twin of micro.ring (thread-ring): a token passed n times around a ring of T
// goroutines over unbuffered channels. Each counts the tokens it receives; the one that
// receives 0 closes its out channel, and each next one closes its own on seeing that.
// Checksum: n + 1 receipts. -rounds R: R rounds in this process, the last reported.
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
	tasks := flag.Int("tasks", 503, "goroutines in the ring")
	n := flag.Int64("size", 100000, "token passes")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	rounds := flag.Int("rounds", 1, "rounds in this process; the last is reported")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)

	var wall time.Duration
	var seen int64
	for r := 0; r < *rounds; r++ {
		// twin:begin
		ch := make([]chan int64, *tasks)
		for i := range ch {
			ch[i] = make(chan int64)
		}
		// twin:end
		seen = 0
		start := time.Now()
		// twin:begin
		var wg sync.WaitGroup
		for i := 0; i < *tasks; i++ {
			wg.Add(1)
			go func(in, out chan int64) {
				defer wg.Done()
				var s int64
				for tok := range in {
					s++
					if tok == 0 {
						break
					}
					out <- tok - 1
				}
				close(out)
				atomic.AddInt64(&seen, s)
			}(ch[i], ch[(i+1)%*tasks])
		}
		ch[0] <- *n
		wg.Wait()
		// twin:end
		wall = time.Since(start)
	}
	fmt.Printf("workload=micro.ring wall_ns=%d ops=%d checksum=%d\n", wall.Nanoseconds(), *n, seen)
}

func main() { twin.Main(run) }

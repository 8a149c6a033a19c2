// Go twin of micro.chan: cap=0 ping-pong round trips over two unbuffered channels;
// cap>0 a producer streams n values through one buffered channel.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"time"

	"../twin"
)

// One repetition; twin.Main runs it once per repetition the harness sends.
func run() {
	flag.Int64("tasks", 2, "unused (always 2 goroutines)")
	size := flag.Int64("size", 100000, "round trips (cap=0) or messages (cap>0)")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	capacity := flag.Int("cap", 0, "channel capacity")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)
	n := *size

	start := time.Now()
	// twin:begin
	var sum uint64
	a := make(chan uint64, *capacity)
	if *capacity == 0 {
		b := make(chan uint64)
		done := make(chan uint64)
		go func() { // pong
			for v := range a {
				b <- v + 1
			}
			done <- 0
		}()
		go func() { // ping
			var s uint64
			for i := int64(0); i < n; i++ {
				v := uint64(i)
				a <- v
				if back := <-b; back == v+1 {
					s += back
				}
			}
			close(a)
			done <- s
		}()
		sum = <-done
		sum += <-done
	} else {
		done := make(chan uint64)
		go func() {
			var s uint64
			for v := range a {
				s += v
			}
			done <- s
		}()
		for i := int64(0); i < n; i++ {
			a <- uint64(i)
		}
		close(a)
		sum = <-done
	}
	// twin:end
	wall := time.Since(start)
	fmt.Printf("wall_ns=%d ops=%d checksum=%d\n", wall.Nanoseconds(), n, sum)
}

func main() { twin.Main(run) }

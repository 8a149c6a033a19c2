# speedup.gp: cpu.fib speedup over the serial baseline vs workers, one line per backend with
# its 95% interval as error bars, beside the ideal (min(workers, ncpu)); the real runtimes
# (name-self) against their own 1-worker time.
load plots_dir.'/common.gp'
set title 'cpu.fib speedup over serial vs workers ('.cell.")\n".machine
set xlabel 'workers (OS threads / processes / Ps given to the backend)'
set ylabel "speedup (x, median, 95% interval): C backends over serial,\n*-self: a real runtime over its own 1-worker time"
set xrange [0.8:*]
set offsets 0, 0, graph 0.1, 0
set yrange [0:*]
set xtics 1
do for [fmt in formats] {
    eval(term(fmt))
    set output outbase.'.'.fmt
    plot for [i=1:words(files)] word(files, i) using 1:2:3:4 with yerrorlines ls int(word(styles, i)) title word(names, i), \
         (x < ncpu ? x : ncpu) with lines dt 2 lw 1.5 lc rgb '#555555' title 'ideal'
    unset output
}

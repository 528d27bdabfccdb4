import torch, time, sys
torch.set_num_threads(int(sys.argv[1]))
for dt in (torch.float32,):
  for (m,k,n) in [(800,576,1536),(800,1536,576),(800,576,576),(800,576,49152)]:
    a=torch.randn(m,k,dtype=dt); b=torch.randn(k,n,dtype=dt)
    for _ in range(3): a@b
    t=time.perf_counter(); r=10
    for _ in range(r): a@b
    s=(time.perf_counter()-t)/r
    print(dt, (m,k,n), f"{2*m*k*n/s/1e9:.1f} GFLOPS")

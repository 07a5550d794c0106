#include <cstdio>
int main() { std::puts("cxr-llava: not implemented yet"); return 1; }

fn main() {} // placeholder while the bench is being written
